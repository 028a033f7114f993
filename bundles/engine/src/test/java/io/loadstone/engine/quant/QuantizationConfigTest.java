package io.loadstone.engine.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The config files the quantizers wrote, read from the shared checkpoints and from hand-made variants. */
class QuantizationConfigTest {

    @TempDir
    Path dir;

    @Test
    void gptqModelFolderReadsQuantizeConfigJson() throws Exception {
        Path folder = TestModels.model("stories260K-gptq-4bit-32g-actorder");
        QuantizationConfig q = QuantizationConfig.read(folder).orElseThrow();
        assertEquals("gptq", q.method());
        assertEquals(4, q.bits());
        assertEquals(32, q.groupSize());
        assertTrue(q.descAct());
        assertFalse(q.sym());
        assertFalse(q.staticGroups());
        assertEquals("gptq", q.checkpointFormat());
        assertEquals(folder.resolve("quantize_config.json"), q.source());
    }

    @Test
    void awqFolderReadsConfigJsonQuantizationConfig() throws Exception {
        Path folder = TestModels.model("stories260K-awq-4bit-64g-gemv");
        QuantizationConfig q = QuantizationConfig.read(folder).orElseThrow();
        assertEquals("awq", q.method());
        assertEquals(4, q.bits());
        assertEquals(64, q.groupSize());
        assertEquals("gemv", q.version());
        assertTrue(q.zeroPoint());
        assertEquals(List.of(), q.modulesToNotConvert());
        assertEquals(folder.resolve("config.json"), q.source());
    }

    @Test
    void unquantizedFolderHasNone() throws Exception {
        assertTrue(QuantizationConfig.read(TestModels.model("stories260K-hf")).isEmpty());
    }

    @Test
    void autoAwqQuantConfigJsonSpelling() throws Exception {
        Files.writeString(dir.resolve("quant_config.json"), """
                {"zero_point": false, "q_group_size": 32, "w_bit": 4, "version": "GEMM", "modules_to_not_convert": ["lm_head", "gate"]}""");
        QuantizationConfig q = QuantizationConfig.read(dir).orElseThrow();
        assertEquals("awq", q.method());
        assertEquals(32, q.groupSize());
        assertEquals("gemm", q.version());
        assertFalse(q.zeroPoint());
        assertEquals(List.of("lm_head", "gate"), q.modulesToNotConvert());
    }

    @Test
    void exl2AverageBitsAndGptqV2AndStaticGroupsUnderMeta() throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"quantization_config": {"quant_method": "exl2", "version": "0.2.8", "bits": 4.65, "head_bits": 6}}""");
        QuantizationConfig exl2 = QuantizationConfig.read(dir).orElseThrow();
        assertEquals("exl2", exl2.method());
        assertEquals(0, exl2.bits());
        assertEquals(4.65, exl2.averageBits());

        Files.writeString(dir.resolve("quantize_config.json"), """
                {"bits": 3, "group_size": -1, "format": "gptq_v2", "meta": {"static_groups": true}}""");
        QuantizationConfig v2 = QuantizationConfig.read(dir).orElseThrow();
        assertEquals("gptq", v2.method());
        assertEquals(3, v2.bits());
        assertEquals(-1, v2.groupSize());
        assertEquals("gptq_v2", v2.checkpointFormat());
        assertTrue(v2.staticGroups());
        assertTrue(v2.sym());
    }

    @Test
    void badFieldsAreNamedWithTheFile() throws Exception {
        Path file = dir.resolve("quantize_config.json");
        Files.writeString(file, "{\"bits\": \"four\"}");
        ModelFileException bits = assertThrows(ModelFileException.class, () -> QuantizationConfig.read(dir));
        assertEquals(file, bits.file());
        assertTrue(bits.getMessage().contains("bits is four, not a number"), bits.getMessage());

        Files.writeString(file, "{\"bits\": 4, \"group_size\": 0}");
        ModelFileException group = assertThrows(ModelFileException.class, () -> QuantizationConfig.read(dir));
        assertTrue(group.getMessage().contains("group_size is 0.0; it must be -1"), group.getMessage());

        Files.writeString(file, "{\"bits\": 4,");
        ModelFileException json = assertThrows(ModelFileException.class, () -> QuantizationConfig.read(dir));
        assertTrue(json.getMessage().contains("is not valid JSON"), json.getMessage());
    }
}
