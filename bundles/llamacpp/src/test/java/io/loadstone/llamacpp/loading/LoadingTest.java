package io.loadstone.llamacpp.loading;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.loadstone.api.loader.ModelLoadException;
import io.loadstone.api.loader.ModelSource;
import io.loadstone.llamacpp.LlamaLibrary;

/** The shared GGUF file selection and option parsing (moved here from the llama.cpp loader). */
class LoadingTest {

    @Test
    void folderSelectionSkipsProjectorsAndFindsSplitParts(@TempDir Path dir) throws Exception {
        Path folder = Files.createDirectory(dir.resolve("m"));
        Files.writeString(folder.resolve("a-mmproj.gguf"), "projector");
        Files.writeString(folder.resolve("b-model.gguf"), "model");
        Files.writeString(folder.resolve("README.md"), "hello");
        GgufSelection s = GgufSelection.of(ModelSource.of(folder)).orElseThrow();
        assertEquals("b-model.gguf", s.main().getFileName().toString());
        assertEquals(List.of(folder.resolve("a-mmproj.gguf")), s.others());

        Path split = Files.createDirectory(dir.resolve("split"));
        Files.writeString(split.resolve("x-00002-of-00002.gguf"), "2");
        Files.writeString(split.resolve("x-00001-of-00002.gguf"), "1");
        GgufSelection p = GgufSelection.of(ModelSource.of(split)).orElseThrow();
        assertEquals("x-00001-of-00002.gguf", p.main().getFileName().toString());
        assertEquals(2, p.parts().size());
        p.requireParts();
        Files.delete(split.resolve("x-00002-of-00002.gguf"));
        ModelLoadException e = assertThrows(ModelLoadException.class, p::requireParts);
        assertTrue(e.getMessage().contains("x-00002-of-00002.gguf"), e.getMessage());

        assertTrue(GgufSelection.of(ModelSource.of(folder.resolve("README.md"))).isEmpty());
        assertTrue(GgufSelection.of(ModelSource.of(Files.createDirectory(dir.resolve("empty")))).isEmpty());
    }

    @Test
    void tensorSplitIsChecked() throws Exception {
        String lib = System.getProperty("loadstone.llamacpp.library");
        assumeTrue(lib != null && Files.isRegularFile(Path.of(lib)), "native library not unpacked: " + lib);
        try (LlamaLibrary library = LlamaLibrary.load(Path.of(lib), "llama.cpp-b4916")) {
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> LlamaCppOptions.parseSplit("60,abc", library.runtime()));
            assertTrue(e.getMessage().contains("tensor_split"), e.getMessage());
            assertEquals(List.of(60.0, 40.0), LlamaCppOptions.parseSplit(" 60, 40 ", library.runtime()));
            assertEquals(List.of(), LlamaCppOptions.parseSplit("", library.runtime()));
        }
    }
}
