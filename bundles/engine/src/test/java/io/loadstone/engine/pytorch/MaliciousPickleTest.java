package io.loadstone.engine.pytorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.loadstone.engine.EngineModel;
import io.loadstone.engine.EngineOptions;
import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.TestModels;
import io.loadstone.engine.safetensors.Checkpoint;
import io.loadstone.testsupport.TorchSaveWriter;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pickles that would run code under Python's pickle.load (the classic
 * {@code os.system}/{@code builtins.eval} payloads, hidden among real tensors, in protocol 2 and
 * protocol 4 form) are refused at the global, before anything is applied, and nothing runs: the
 * command would create a marker file, which must not appear.
 */
class MaliciousPickleTest {

    private static final System.Logger LOG = System.getLogger(MaliciousPickleTest.class.getName());

    @TempDir
    Path dir;

    private static void binunicode(ByteArrayOutputStream o, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        o.write('X');
        o.write(b.length);
        o.write(b.length >> 8);
        o.write(b.length >> 16);
        o.write(b.length >> 24);
        o.writeBytes(b);
    }

    /** {@code {'model.norm.weight': <module>.<name>(arg)}} in protocol 2 with GLOBAL. */
    private static byte[] globalPayload(String module, String name, String arg) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x80, 2, '}', 'q', 0});
        binunicode(o, "model.norm.weight");
        o.write('c');
        o.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        binunicode(o, arg);
        o.writeBytes(new byte[] {(byte) 0x85, 'R', 's', '.'});
        return o.toByteArray();
    }

    /** The same with protocol 4's STACK_GLOBAL and framing. */
    private static byte[] stackGlobalPayload(String module, String name, String arg) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {'}', (byte) 0x94});
        for (String s : new String[] {"w", module, name}) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            body.write(0x8c);
            body.write(b.length);
            body.writeBytes(b);
            body.write(0x94);
        }
        body.write(0x93);
        binunicode(body, arg);
        body.writeBytes(new byte[] {(byte) 0x85, 'R', 's', '.'});
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x80, 4, (byte) 0x95});
        long n = body.size();
        for (int i = 0; i < 8; i++) {
            o.write((int) (n >>> (8 * i)));
        }
        o.writeBytes(body.toByteArray());
        return o.toByteArray();
    }

    private void assertRefusedAndInert(byte[] pickle, String global, Path marker) throws Exception {
        Path bin = dir.resolve("pytorch_model.bin");
        TorchSaveWriter.writeArchive(bin, pickle, Map.of("0", MemorySegment.ofArray(new float[4])));
        ModelFileException e = assertThrows(ModelFileException.class, () -> EngineModel.open(dir, EngineOptions.defaults()).close());
        LOG.log(System.Logger.Level.INFO, e.getMessage());
        assertEquals(bin, e.file());
        assertTrue(e.getMessage().contains("'" + global + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("never executes pickled code"), e.getMessage());
        assertTrue(e.getMessage().contains(bin.toString()), e.getMessage());
        assertFalse(Files.exists(marker), "nothing may run");
    }

    @Test
    void osSystemAndEvalPayloadsAreRefusedWithoutRunningAnything() throws Exception {
        Files.copy(TestModels.model("stories260K-hf").resolve("config.json"), dir.resolve("config.json"));
        Path marker = dir.resolve("pwned");
        String touch = "touch " + marker;
        assertRefusedAndInert(globalPayload("os", "system", touch), "os.system", marker);
        assertRefusedAndInert(globalPayload("posix", "system", touch), "posix.system", marker);
        assertRefusedAndInert(globalPayload("builtins", "eval", "__import__('os').system('" + touch + "')"), "builtins.eval", marker);
        assertRefusedAndInert(globalPayload("__builtin__", "exec", "open('" + marker + "','w')"), "__builtin__.exec", marker);
        assertRefusedAndInert(globalPayload("subprocess", "Popen", touch), "subprocess.Popen", marker);
        assertRefusedAndInert(stackGlobalPayload("os", "system", touch), "os.system", marker);
        assertRefusedAndInert(stackGlobalPayload("builtins", "eval", "1"), "builtins.eval", marker);
        // torch's own modules are not trusted wholesale either: only the tensor rebuild functions.
        assertRefusedAndInert(globalPayload("torch", "load", "x"), "torch.load", marker);
        assertRefusedAndInert(globalPayload("torch._utils", "_rebuild_device_tensor_from_numpy", "x"),
                "torch._utils._rebuild_device_tensor_from_numpy", marker);
    }

    @Test
    void payloadAfterRealTensorsIsStillRefused() throws Exception {
        // A genuine state dict with the payload appended as one more item (the usual trojaned checkpoint).
        Path src = TestModels.model("stories260K-hf");
        BinFixtures.copyNonWeights(src, dir);
        byte[] real = TorchSaveWriter.pickle(List.of(new TorchSaveWriter.Record("a", "FloatStorage", "0", 4, 0,
                new long[] {4}, new long[] {1})), false);
        byte[] evil = globalPayload("os", "system", "touch " + dir.resolve("pwned"));
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(real, 0, real.length - 1); // without STOP: the dict is on the stack
        byte[] item = new byte[evil.length - 5 - 1];
        System.arraycopy(evil, 5, item, 0, item.length); // key, GLOBAL, arg, TUPLE1, REDUCE, SETITEM
        o.writeBytes(item);
        o.write('.');
        assertRefusedAndInert(o.toByteArray(), "os.system", dir.resolve("pwned"));
        assertTrue(Files.isRegularFile(dir.resolve(Checkpoint.BIN_SINGLE)));
    }
}
