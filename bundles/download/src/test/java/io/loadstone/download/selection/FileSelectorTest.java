package io.loadstone.download.selection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.DownloadPlan.Layout;
import io.loadstone.download.GgufChoice;
import io.loadstone.download.RemoteFile;
import io.loadstone.download.RepoRef;
import io.loadstone.download.selection.FileSelector.Selection;

/** File choice on listings shaped like real Hub repos. */
class FileSelectorTest {

    final FileSelector selector = new FileSelector();

    static RemoteFile git(String path, long size) {
        return new RemoteFile(path, size, Optional.empty());
    }

    static RemoteFile lfs(String path, long size) {
        String sha = String.format("%064x", (long) path.hashCode() & 0xffffffffL);
        return new RemoteFile(path, size, Optional.of(sha));
    }

    static List<String> paths(Selection s) {
        return s.files().stream().map(RemoteFile::path).sorted().toList();
    }

    /** Like an early TheBloke GPTQ repo: the same weights as safetensors, .bin and .pt. */
    static final List<RemoteFile> GPTQ = List.of(git(".gitattributes", 1519), git("README.md", 17_000),
            git("config.json", 613), git("generation_config.json", 137), git("quantize_config.json", 156),
            git("special_tokens_map.json", 411), git("tokenizer.json", 1_842_767), lfs("tokenizer.model", 499_723),
            git("tokenizer_config.json", 727), lfs("gptq_model-4bit-128g.safetensors", 3_896_008_440L),
            lfs("gptq_model-4bit-128g.bin", 3_896_123_456L),
            lfs("vicuna-7B-GPTQ-4bit-128g.no-act-order.pt", 3_896_554_331L), git("LICENSE.txt", 7020),
            git("Notice", 112), lfs("images/demo.png", 220_000));

    @Test
    void gptqRepoGetsSafetensorsAndEveryTextFileButNoDuplicateWeights() throws DownloadException {
        Selection s = selector.select(RepoRef.of("TheBloke/vicuna-7B-GPTQ"), GPTQ, Optional.empty());
        assertEquals(Layout.FOLDER, s.layout());
        assertFalse(s.lora());
        assertEquals("TheBloke_vicuna-7B-GPTQ", s.targetName());
        assertEquals(List.of("LICENSE.txt", "README.md", "config.json", "generation_config.json",
                "gptq_model-4bit-128g.safetensors", "quantize_config.json", "special_tokens_map.json",
                "tokenizer.json", "tokenizer.model", "tokenizer_config.json"), paths(s));
        assertTrue(s.notes().stream().anyMatch(n -> n.startsWith("gptq_model-4bit-128g.bin: skipped")), s.notes()
                .toString());
        assertTrue(s.notes().stream().anyMatch(n -> n.startsWith("vicuna-7B-GPTQ-4bit-128g.no-act-order.pt")));
        assertTrue(s.notes().stream().anyMatch(n -> n.contains("3 files of other kinds")), s.notes().toString());
    }

    @Test
    void pytorchOnlyRepoKeepsItsBinWeightsAndIndex() throws DownloadException {
        List<RemoteFile> l = List.of(git("config.json", 600), lfs("pytorch_model-00001-of-00002.bin", 9_900_000_000L),
                lfs("pytorch_model-00002-of-00002.bin", 3_500_000_000L), git("pytorch_model.bin.index.json", 26_788),
                lfs("training_args.bin", 4_000), lfs("flax_model.msgpack", 13_000_000_000L));
        Selection s = selector.select(RepoRef.of("lmsys/vicuna-7b-v1.3"), l, Optional.empty());
        assertEquals(List.of("config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
                "pytorch_model.bin.index.json"), paths(s));
    }

    /** Like TheBloke/Llama-2-7B-GGUF: one file per quantisation. */
    static List<RemoteFile> ggufRepo() {
        List<RemoteFile> l = new ArrayList<>(List.of(git(".gitattributes", 1600), git("README.md", 25_000),
                git("LICENSE.txt", 7020), git("config.json", 29)));
        String[] quants = {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_K_S", "Q4_K_M", "Q5_0", "Q5_K_S",
            "Q5_K_M", "Q6_K", "Q8_0"};
        long[] sizes = {2_825_940_672L, 2_948_304_576L, 3_298_004_672L, 3_597_110_976L, 3_825_806_016L,
            3_856_739_520L, 4_081_004_224L, 4_651_692_224L, 4_651_692_224L, 4_783_156_928L, 5_529_194_176L,
            7_161_089_728L};
        for (int i = quants.length - 1; i >= 0; i--) {
            l.add(lfs("llama-2-7b." + quants[i] + ".gguf", sizes[i]));
        }
        return l;
    }

    @Test
    void ggufRepoWithManyQuantsDoesNotGuess() throws DownloadException {
        Selection s = selector.select(RepoRef.of("TheBloke/Llama-2-7B-GGUF"), ggufRepo(), Optional.empty());
        assertEquals(Layout.CHOOSE_GGUF, s.layout());
        assertEquals(List.of(), s.files());
        assertEquals(12, s.choices().size());
        assertEquals("llama-2-7b.Q2_K.gguf", s.choices().get(0).file());
        assertEquals("llama-2-7b.Q8_0.gguf", s.choices().get(11).file());
        for (int i = 1; i < s.choices().size(); i++) {
            assertTrue(s.choices().get(i - 1).size() <= s.choices().get(i).size(), "smallest first");
        }
        assertEquals(4_081_004_224L, s.choices().stream().filter(c -> c.file().contains("Q4_K_M")).findFirst()
                .orElseThrow().size());
    }

    @Test
    void chosenGgufIsASingleFileIntoModels() throws DownloadException {
        Selection s = selector.select(RepoRef.of("TheBloke/Llama-2-7B-GGUF"), ggufRepo(),
                Optional.of("llama-2-7b.Q4_K_M.gguf"));
        assertEquals(Layout.SINGLE_FILE, s.layout());
        assertEquals("llama-2-7b.Q4_K_M.gguf", s.targetName());
        assertEquals(List.of("llama-2-7b.Q4_K_M.gguf"), paths(s));
    }

    @Test
    void singleGgufRepoNeedsNoChoice() throws DownloadException {
        List<RemoteFile> l = List.of(git("README.md", 10), lfs("stories260K.gguf", 1_185_376));
        Selection s = selector.select(RepoRef.of("ggml-org/models"), l, Optional.empty());
        assertEquals(Layout.SINGLE_FILE, s.layout());
        assertEquals(List.of("stories260K.gguf"), paths(s));
    }

    /** Like Qwen/Qwen2.5-72B-Instruct-GGUF: split models, some in subfolders. */
    static List<RemoteFile> splitRepo() {
        List<RemoteFile> l = new ArrayList<>(List.of(git("README.md", 6000), git("LICENSE", 7000)));
        for (int i = 1; i <= 12; i++) {
            l.add(lfs(String.format("qwen2.5-72b-instruct-q4_k_m-%05d-of-00012.gguf", i), 3_950_000_000L));
        }
        for (int i = 1; i <= 3; i++) {
            l.add(lfs(String.format("q8_0/qwen2.5-72b-instruct-q8_0-%05d-of-00004.gguf", i), 3_990_000_000L));
        }
        l.add(lfs("qwen2.5-72b-instruct-q2_k.gguf", 29_800_000_000L));
        return l;
    }

    @Test
    void splitGgufsAreOneChoiceEachAndIncompleteSetsAreNotOffered() throws DownloadException {
        Selection s = selector.select(RepoRef.of("Qwen/Qwen2.5-72B-Instruct-GGUF"), splitRepo(), Optional.empty());
        assertEquals(Layout.CHOOSE_GGUF, s.layout());
        assertEquals(List.of("qwen2.5-72b-instruct-q2_k.gguf", "qwen2.5-72b-instruct-q4_k_m-00001-of-00012.gguf"),
                s.choices().stream().map(GgufChoice::file).toList());
        GgufChoice split = s.choices().get(1);
        assertTrue(split.isSplit());
        assertEquals(12, split.parts().size());
        assertEquals(12 * 3_950_000_000L, split.size());
        assertTrue(s.notes().stream().anyMatch(n -> n.contains("q8_0") && n.contains("only 3")), s.notes().toString());
    }

    @Test
    void choosingAnyPartOfASplitGgufTakesAllPartsIntoOneFolder() throws DownloadException {
        Selection s = selector.select(RepoRef.of("Qwen/Qwen2.5-72B-Instruct-GGUF"), splitRepo(),
                Optional.of("qwen2.5-72b-instruct-q4_k_m-00007-of-00012.gguf"));
        assertEquals(Layout.SPLIT_GGUF, s.layout());
        assertEquals("qwen2.5-72b-instruct-q4_k_m", s.targetName());
        assertEquals(12, s.files().size());
        DownloadException e = assertThrows(DownloadException.class, () -> selector.select(
                RepoRef.of("Qwen/Qwen2.5-72B-Instruct-GGUF"), splitRepo(),
                Optional.of("q8_0/qwen2.5-72b-instruct-q8_0-00001-of-00004.gguf")));
        assertTrue(e.getMessage().contains("split into 4 files"), e.getMessage());
    }

    @Test
    void loraRepoIsRecognisedAndTakesSafetensorsOnly() throws DownloadException {
        List<RemoteFile> l = List.of(git("README.md", 5000), git("adapter_config.json", 650),
                lfs("adapter_model.safetensors", 67_126_104), lfs("adapter_model.bin", 67_154_893),
                lfs("training_args.bin", 4_600), git("tokenizer_config.json", 900), git("special_tokens_map.json", 400));
        Selection s = selector.select(RepoRef.of("tloen/alpaca-lora-7b"), l, Optional.empty());
        assertTrue(s.lora());
        assertEquals(Layout.FOLDER, s.layout());
        assertEquals(List.of("README.md", "adapter_config.json", "adapter_model.safetensors",
                "special_tokens_map.json", "tokenizer_config.json"), paths(s));
    }

    @Test
    void adapterConfigOnlyInASubfolderDoesNotMakeALora() throws DownloadException {
        List<RemoteFile> l = List.of(git("config.json", 600), lfs("model.safetensors", 1000),
                git("checkpoint-500/adapter_config.json", 600));
        assertFalse(selector.select(RepoRef.of("acme/x"), l, Optional.empty()).lora());
    }

    /** Like meta-llama/Meta-Llama-3-8B: HF layout plus an original/ folder and other extras. */
    @Test
    void subfoldersFollowTheSameRules() throws DownloadException {
        List<RemoteFile> l = List.of(git("config.json", 654), git("generation_config.json", 177),
                lfs("model-00001-of-00004.safetensors", 4_976_698_672L),
                lfs("model-00002-of-00004.safetensors", 4_999_802_720L),
                lfs("model-00003-of-00004.safetensors", 4_915_916_176L),
                lfs("model-00004-of-00004.safetensors", 1_168_138_808L), git("model.safetensors.index.json", 23_950),
                git("special_tokens_map.json", 73), git("tokenizer.json", 9_085_698), git("tokenizer_config.json", 50_977),
                lfs("original/consolidated.00.pth", 16_060_617_592L), git("original/params.json", 211),
                lfs("original/tokenizer.model", 2_183_982), git("1_Pooling/config.json", 190),
                lfs("onnx/model.onnx", 1_000_000), git("USE_POLICY.md", 4696), git("LICENSE", 7801));
        Selection s = selector.select(RepoRef.of("meta-llama/Meta-Llama-3-8B"), l, Optional.empty());
        assertEquals(List.of("1_Pooling/config.json", "USE_POLICY.md", "config.json", "generation_config.json",
                "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors", "model.safetensors.index.json",
                "original/params.json", "original/tokenizer.model", "special_tokens_map.json", "tokenizer.json",
                "tokenizer_config.json"), paths(s));
        assertTrue(s.notes().stream().anyMatch(n -> n.startsWith("original/consolidated.00.pth: skipped")));
    }

    @Test
    void mistralConsolidatedDuplicateIsSkipped() throws DownloadException {
        List<RemoteFile> l = List.of(git("config.json", 600), git("params.json", 200),
                lfs("consolidated.safetensors", 14_496_078_512L), lfs("model-00001-of-00003.safetensors", 4_949_453_792L),
                lfs("model-00002-of-00003.safetensors", 4_999_819_336L),
                lfs("model-00003-of-00003.safetensors", 4_546_807_800L), git("model.safetensors.index.json", 23_950),
                lfs("tokenizer.model.v3", 587_404), git("tokenizer.json", 1_961_548));
        Selection s = selector.select(RepoRef.of("mistralai/Mistral-7B-Instruct-v0.3"), l, Optional.empty());
        assertFalse(paths(s).contains("consolidated.safetensors"));
        assertTrue(paths(s).contains("model-00003-of-00003.safetensors"));
        assertTrue(paths(s).contains("tokenizer.model.v3"), "tokenizer*.model* counts as a tokenizer: " + paths(s));
    }

    @Test
    void safetensorsWinOverGgufInTheSameRepoAndTheNoteSaysSo() throws DownloadException {
        List<RemoteFile> l = List.of(git("config.json", 600), lfs("model.safetensors", 1_000_000),
                lfs("model-f16.gguf", 2_000_000), lfs("model-q8_0.gguf", 1_000_000));
        Selection s = selector.select(RepoRef.of("acme/both"), l, Optional.empty());
        assertEquals(List.of("config.json", "model.safetensors"), paths(s));
        assertTrue(s.notes().stream().anyMatch(n -> n.contains("2 GGUF model(s)")), s.notes().toString());
        Selection chosen = selector.select(RepoRef.of("acme/both"), l, Optional.of("model-q8_0.gguf"));
        assertEquals(Layout.SINGLE_FILE, chosen.layout());
    }

    @Test
    void extensionsAreMatchedWhole() {
        assertEquals(FileSelector.Kind.OTHER, FileSelector.kind("model.ptx"));
        assertEquals(FileSelector.Kind.PT, FileSelector.kind("consolidated.00.pth"));
        assertEquals(FileSelector.Kind.OTHER, FileSelector.kind("training_args.bin"));
        assertEquals(FileSelector.Kind.PYTORCH, FileSelector.kind("adapter_model.bin"));
        assertEquals(FileSelector.Kind.TEXT, FileSelector.kind("chat_template.jinja"));
        assertEquals(FileSelector.Kind.TOKENIZER, FileSelector.kind("spiece.model"));
        assertEquals(FileSelector.Kind.TOKENIZER, FileSelector.kind("qwen.tiktoken"));
        assertEquals(FileSelector.Kind.GGUF, FileSelector.kind("Model.Q4_K_M.GGUF"));
    }

    @Test
    void chosenFileMayBeGivenByNameWhenUnique() throws DownloadException {
        List<RemoteFile> l = List.of(lfs("Q4_K_M/m.Q4_K_M.gguf", 100), lfs("Q8_0/m.Q8_0.gguf", 200),
                lfs("a/dup.gguf", 1), lfs("b/dup.gguf", 1));
        assertEquals(List.of("Q4_K_M/m.Q4_K_M.gguf"),
                paths(selector.select(RepoRef.of("acme/m"), l, Optional.of("m.Q4_K_M.gguf"))));
        DownloadException dup = assertThrows(DownloadException.class,
                () -> selector.select(RepoRef.of("acme/m"), l, Optional.of("dup.gguf")));
        assertTrue(dup.getMessage().contains("a/dup.gguf, b/dup.gguf"), dup.getMessage());
        DownloadException missing = assertThrows(DownloadException.class,
                () -> selector.select(RepoRef.of("acme/m"), l, Optional.of("m.Q5_K_M.gguf")));
        assertEquals(Reason.NOT_FOUND, missing.reason());
        assertTrue(missing.getMessage().contains("its GGUF files are: Q4_K_M/m.Q4_K_M.gguf"), missing.getMessage());
    }

    @Test
    void repoWithoutModelFilesGetsItsTextOrAClearError() throws DownloadException {
        Selection text = selector.select(RepoRef.of("acme/cfg"), List.of(git("config.json", 10), git("x.png", 5)),
                Optional.empty());
        assertEquals(List.of("config.json"), paths(text));
        assertTrue(text.notes().stream().anyMatch(n -> n.contains("no model weights")));
        DownloadException e = assertThrows(DownloadException.class, () -> selector.select(RepoRef.of("acme/img"),
                List.of(git(".gitattributes", 10), lfs("x.png", 5)), Optional.empty()));
        assertEquals(Reason.NOT_FOUND, e.reason());
        assertTrue(e.getMessage().contains("No files to download in acme/img"), e.getMessage());
    }

    @Test
    void ownMetadataFileInTheRepoIsNotFetched() throws DownloadException {
        Selection s = selector.select(RepoRef.of("acme/x"), List.of(git("huggingface-metadata.txt", 100),
                lfs("model.safetensors", 10)), Optional.empty());
        assertEquals(List.of("model.safetensors"), paths(s));
    }
}
