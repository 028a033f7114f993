package io.loadstone.ui.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import io.loadstone.ui.generation.Params;
import io.loadstone.ui.http.ApiException;

class EvaluationServletTest {

    private static final List<String> DATASETS = List.of("wiki.test.txt", "stories.txt");

    private static EvaluationInput input(String json) throws ApiException {
        return EvaluationServlet.input(new Params(JsonParser.parseString(json).getAsJsonObject()), DATASETS);
    }

    private static ApiException refused(String json) {
        return assertThrows(ApiException.class, () -> input(json), json);
    }

    @Test
    void defaultsAreTextGenerationWebuis() throws Exception {
        EvaluationInput in = input("{\"text\":\"Once upon a time\"}");
        assertEquals(512, in.stride());
        assertEquals(0, in.maxLength());
        assertEquals("windows", in.method());
        assertEquals(false, in.force());
        assertEquals("", in.comment());
        assertNull(in.model());
        assertNull(in.dataset());
        assertEquals("pasted text (16 characters)", in.source());
    }

    @Test
    void snakeCaseFieldsAreRead() throws Exception {
        EvaluationInput in = input("{\"dataset\":\"stories.txt\",\"stride\":1,\"max_length\":128,\"method\":\"CHUNKS\","
                + "\"force\":true,\"comment\":\"  q8 \",\"model\":\"m.gguf\"}");
        assertEquals("stories.txt", in.dataset());
        assertEquals(1, in.stride());
        assertEquals(128, in.maxLength());
        assertEquals("chunks", in.method());
        assertTrue(in.force());
        assertEquals("q8", in.comment());
        assertEquals("m.gguf", in.model());
        assertEquals("stories.txt", in.source());
    }

    @Test
    void badValuesAre400sNamingTheField() {
        ApiException e = refused("{\"text\":\"x\",\"stride\":0}");
        assertEquals(400, e.status());
        assertEquals("stride", e.param());
        assertEquals("max_length", refused("{\"text\":\"x\",\"max_length\":-1}").param());
        assertEquals("max_length", refused("{\"text\":\"x\",\"max_length\":1.5}").param());
        e = refused("{\"text\":\"x\",\"method\":\"bogus\"}");
        assertEquals("method", e.param());
        assertTrue(e.getMessage().contains("windows") && e.getMessage().contains("chunks"), e.getMessage());
        assertEquals("force", refused("{\"text\":\"x\",\"force\":\"yes\"}").param());
    }

    @Test
    void exactlyOneOfDatasetAndText() {
        ApiException none = refused("{}");
        assertEquals(400, none.status());
        assertTrue(none.getMessage().contains("wiki.test.txt"), "lists the datasets: " + none.getMessage());
        assertEquals("ambiguous_input", refused("{\"dataset\":\"stories.txt\",\"text\":\"x\"}").code());
        assertEquals("empty_text", refused("{\"text\":\"   \"}").code());
    }

    @Test
    void anUnknownDatasetNamesWhatThereIs() {
        ApiException e = refused("{\"dataset\":\"../secret.txt\"}");
        assertEquals(400, e.status());
        assertEquals("dataset_not_found", e.code());
        assertTrue(e.getMessage().contains("../secret.txt") && e.getMessage().contains("stories.txt"),
                e.getMessage());
        ApiException empty = assertThrows(ApiException.class, () -> EvaluationServlet.input(new Params(
                new JsonObject()), List.of()));
        assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
    }
}
