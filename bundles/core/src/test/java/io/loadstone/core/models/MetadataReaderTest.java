package io.loadstone.core.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.runtime.ModelMetadata;

/** A models folder shaped like real Hugging Face repos, and what each one's files say. */
class MetadataReaderTest {

    @TempDir
    Path models;

    private static final Path GGUF = Path.of(System.getProperty("loadstone.test.gguf"));

    private Path write(String rel, String content) throws Exception {
        Path p = models.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        return p;
    }

    @Test
    void ggufFileAndFolderGiveContextArchitectureAndFormat() throws Exception {
        Path file = models.resolve("stories260K.gguf");
        Files.copy(GGUF, file);
        ModelMetadata m = MetadataReader.read(file);
        assertEquals("llama", m.architecture());
        assertEquals(2048, m.contextLength());
        assertTrue(m.format().startsWith("GGUF v3, architecture llama"), m.format());

        Path folder = Files.createDirectories(models.resolve("TheBloke_Stories-GGUF"));
        Files.copy(GGUF, folder.resolve("stories-Q8_0.gguf"));
        Files.copy(GGUF, folder.resolve("stories-F32.gguf"));
        assertEquals(2048, MetadataReader.read(folder).contextLength());
        assertEquals("stories-F32.gguf", MetadataReader.read(folder).extra().get("file"));
    }

    @Test
    void splitGgufIsReadFromItsFirstPart() throws Exception {
        Path folder = Files.createDirectories(models.resolve("big"));
        Files.copy(GGUF, folder.resolve("big-00002-of-00002.gguf"));
        Files.copy(GGUF, folder.resolve("big-00001-of-00002.gguf"));
        assertEquals("big-00001-of-00002.gguf", MetadataReader.firstGguf(folder).orElseThrow().getFileName()
                .toString());
    }

    @Test
    void corruptGgufIsAProblemNotACrash() throws Exception {
        byte[] all = Files.readAllBytes(GGUF);
        Path cut = models.resolve("cut.gguf");
        Files.write(cut, Arrays.copyOf(all, 5000));
        ModelMetadata m = MetadataReader.read(cut);
        assertTrue(String.valueOf(m.extra().get("problem")).contains("cut.gguf"), m.extra().toString());
        assertEquals(0, m.contextLength());
    }

    @Test
    void gptqFolderWithQuantizeConfig() throws Exception {
        write("TheBloke_Llama-2-7B-GPTQ/config.json", """
                {"model_type": "llama", "max_position_embeddings": 4096, "rope_theta": 10000.0}""");
        write("TheBloke_Llama-2-7B-GPTQ/quantize_config.json", """
                {"bits": 4, "group_size": 128, "desc_act": true, "sym": true}""");
        write("TheBloke_Llama-2-7B-GPTQ/model.safetensors", "x");
        ModelMetadata m = MetadataReader.read(models.resolve("TheBloke_Llama-2-7B-GPTQ"));
        assertEquals("gptq", m.quantMethod());
        assertEquals(4, m.wbits());
        assertEquals(128, m.groupsize());
        assertTrue(m.descAct());
        assertEquals(4096, m.contextLength());
        assertEquals(10000.0, m.ropeFreqBase());
    }

    @Test
    void gptqInQuantizationConfigWithLinearRope() throws Exception {
        write("m/config.json", """
                {"model_type": "llama", "max_position_embeddings": 16384,
                 "rope_scaling": {"type": "linear", "factor": 4.0},
                 "quantization_config": {"quant_method": "gptq", "bits": 8, "group_size": 32, "desc_act": false}}""");
        ModelMetadata m = MetadataReader.read(models.resolve("m"));
        assertEquals("gptq", m.quantMethod());
        assertEquals(8, m.wbits());
        assertEquals(32, m.groupsize());
        assertFalse(m.descAct());
        assertEquals(4.0, m.compressPosEmb());
    }

    @Test
    void awqAndExl2AndPlain() throws Exception {
        write("awq/config.json", "{\"model_type\": \"mistral\", \"max_position_embeddings\": 32768}");
        write("awq/quant_config.json", "{\"w_bit\": 4, \"q_group_size\": 128, \"zero_point\": true}");
        ModelMetadata awq = MetadataReader.read(models.resolve("awq"));
        assertEquals("awq", awq.quantMethod());
        assertEquals(4, awq.wbits());
        assertEquals(128, awq.groupsize());
        assertEquals("mistral", awq.architecture());

        write("exl2/config.json", "{\"model_type\": \"llama\", \"quantization_config\": {\"quant_method\": \"exl2\","
                + " \"bits\": 4.65}}");
        assertEquals("exl2", MetadataReader.read(models.resolve("exl2")).quantMethod());

        write("plain/config.json", "{\"model_type\": \"qwen2\", \"max_position_embeddings\": 131072,"
                + " \"rope_theta\": 1000000.0}");
        write("plain/tokenizer_config.json", "{\"chat_template\": \"{% for m in messages %}{{m.content}}{% endfor %}\"}");
        ModelMetadata plain = MetadataReader.read(models.resolve("plain"));
        assertEquals("", plain.quantMethod());
        assertEquals(131072, plain.contextLength());
        assertEquals(1_000_000.0, plain.ropeFreqBase());
        assertTrue(plain.chatTemplate().contains("messages"));
    }

    @Test
    void oldGptqFolderKnownOnlyByItsName() throws Exception {
        write("TheBloke_WizardLM-7B-4bit-128g/config.json", "{\"model_type\": \"llama\"}");
        ModelMetadata m = MetadataReader.read(models.resolve("TheBloke_WizardLM-7B-4bit-128g"));
        assertEquals(4, m.wbits());
        assertEquals(128, m.groupsize());
    }

    @Test
    void brokenConfigIsReportedWithTheFileName() throws Exception {
        write("broken/config.json", "{not json");
        ModelMetadata m = MetadataReader.read(models.resolve("broken"));
        assertTrue(String.valueOf(m.extra().get("problem")).contains("config.json"), m.extra().toString());
    }
}
