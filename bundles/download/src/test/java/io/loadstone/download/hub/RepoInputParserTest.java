package io.loadstone.download.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import io.loadstone.download.DownloadException;
import io.loadstone.download.DownloadException.Reason;
import io.loadstone.download.RepoRef;

/** What users type into the "Download model or LoRA" box. */
class RepoInputParserTest {

    final RepoInputParser parser = new RepoInputParser(URI.create("https://huggingface.co"));

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
        "facebook/opt-125m | facebook/opt-125m | main | -",
        "  facebook/opt-125m/  | facebook/opt-125m | main | -",
        "facebook/opt-125m:dev | facebook/opt-125m | dev | -",
        "TheBloke/Llama-2-7B-GPTQ:gptq-4bit-32g-actorder_True | TheBloke/Llama-2-7B-GPTQ | gptq-4bit-32g-actorder_True | -",
        "acme/tiny:refs/pr/1 | acme/tiny | refs/pr/1 | -",
        "https://huggingface.co/facebook/opt-125m | facebook/opt-125m | main | -",
        "https://huggingface.co/facebook/opt-125m/ | facebook/opt-125m | main | -",
        "huggingface.co/facebook/opt-125m | facebook/opt-125m | main | -",
        "http://www.huggingface.co/facebook/opt-125m | facebook/opt-125m | main | -",
        "https://hf.co/facebook/opt-125m:v2.0 | facebook/opt-125m | v2.0 | -",
        "https://huggingface.co/facebook/opt-125m/tree/dev | facebook/opt-125m | dev | -",
        "https://huggingface.co/acme/tiny/tree/refs%2Fpr%2F1 | acme/tiny | refs/pr/1 | -",
        "https://huggingface.co/acme/tiny/tree/refs/pr/1 | acme/tiny | refs/pr/1 | -",
        "https://huggingface.co/TheBloke/Llama-2-7B-GGUF/resolve/main/llama-2-7b.Q4_K_M.gguf | TheBloke/Llama-2-7B-GGUF | main | llama-2-7b.Q4_K_M.gguf",
        "https://huggingface.co/TheBloke/Llama-2-7B-GGUF/resolve/main/llama-2-7b.Q4_K_M.gguf?download=true | TheBloke/Llama-2-7B-GGUF | main | llama-2-7b.Q4_K_M.gguf",
        "https://huggingface.co/Qwen/Qwen2.5-72B-Instruct-GGUF/blob/main/q4_k_m/qwen2.5-72b-instruct-q4_k_m-00001-of-00012.gguf | Qwen/Qwen2.5-72B-Instruct-GGUF | main | q4_k_m/qwen2.5-72b-instruct-q4_k_m-00001-of-00012.gguf",
        "https://huggingface.co/acme/tiny/resolve/refs%2Fpr%2F2/my%20model.gguf | acme/tiny | refs/pr/2 | my model.gguf",
        "https://huggingface.co/acme/tiny#readme | acme/tiny | main | -",
    })
    void accepts(String input, String repo, String branch, String file) throws DownloadException {
        RepoRef ref = parser.parse(input);
        assertEquals(repo, ref.repo());
        assertEquals(branch, ref.branch());
        assertEquals(Optional.ofNullable(file), ref.file());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "\"\" | Please enter a model",
        "\"   \" | Please enter a model",
        "facebook | not a Hugging Face model id",
        "facebook/ | not a Hugging Face model id",
        "/opt-125m | not a Hugging Face model id",
        "facebook/opt 125m | not a Hugging Face model id",
        "face--book/opt | '--' and '..' are not allowed",
        "facebook/opt..125m | '--' and '..' are not allowed",
        "-facebook/opt | not a Hugging Face model id",
        "facebook/opt- | cannot end with '-'",
        "facebook/opt. | cannot end with '.'",
        "facebook/opt-125m: | names no branch",
        "facebook/opt-125m:dev branch | Invalid branch name",
        "facebook/opt-125m:../../etc | Invalid branch name",
        "facebook/opt-125m:/main | Invalid branch name",
        "facebook/opt-125m:. | '.' as a part",
        "facebook/opt-125m:refs/./main | '.' as a part",
        "facebook/opt-125m:ma$in | Invalid branch name",
        "facebook/opt-125m/model.gguf | has more than user/model",
        "https://github.com/facebook/opt-125m | not a Hugging Face URL",
        "https://huggingface.co/datasets/squad/plain | is a dataset",
        "https://huggingface.co/spaces/acme/demo | is a space",
        "https://huggingface.co/facebook | names only 'facebook'",
        "https://huggingface.co/ | names no model",
        "https://huggingface.co/acme/tiny/resolve/main | file URL without a file",
        "https://huggingface.co/acme/tiny/tree | names no branch",
        "https://huggingface.co/acme/tiny/commits/main | not a model URL",
        "https://huggingface.co/acme/tiny/resolve/main/..%2F..%2Fevil | empty, '.' or '..' path segment",
        "https://huggingface.co/acme/tiny/resolve/main/a%5Cb.gguf | backslash",
        "https://huggingface.co/acme/tiny/resolve/main/a%00b.gguf | control character",
        "https://huggingface.co/acme/tiny/resolve/main/%ZZ | not a valid URL (Malformed escape pair)",
        "ftp://huggingface.co/acme/tiny | not an http(s) URL",
        "https://huggingface.co/acme/tiny/tree/a..b | Invalid branch name",
    })
    void rejectsWithAMessageThatSaysWhy(String input, String expected) {
        DownloadException e = assertThrows(DownloadException.class, () -> parser.parse(input));
        assertEquals(Reason.INVALID_INPUT, e.reason());
        assertTrue(e.getMessage().contains(expected), "'" + input + "' → " + e.getMessage());
    }

    @Test
    void aMirrorEndpointAcceptsItsOwnUrlsAndStillTheOfficialOnes() throws DownloadException {
        RepoInputParser mirror = new RepoInputParser(URI.create("https://hf-mirror.example.org/hub/"));
        assertEquals(RepoRef.of("acme/tiny", "dev"), mirror.parse("https://hf-mirror.example.org/hub/acme/tiny/tree/dev"));
        assertEquals(RepoRef.of("acme/tiny"), mirror.parse("https://huggingface.co/acme/tiny"));
        DownloadException e = assertThrows(DownloadException.class,
                () -> mirror.parse("https://elsewhere.example.org/acme/tiny"));
        assertTrue(e.getMessage().contains("https://hf-mirror.example.org/hub/user/model"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a/b", "A1/b.c_d-e", "meta-llama/Llama-3.1-8B-Instruct", "01-ai/Yi-34B"})
    void validRepoIds(String id) {
        assertNull(RepoRef.repoIdProblem(id));
    }

    @Test
    void folderNamesFollowTextGenerationWebui() {
        assertEquals("TheBloke_Llama-2-7B-GPTQ", RepoRef.of("TheBloke/Llama-2-7B-GPTQ").folderName());
        assertEquals("TheBloke_Llama-2-7B-GPTQ_gptq-4bit-32g-actorder_True",
                RepoRef.of("TheBloke/Llama-2-7B-GPTQ", "gptq-4bit-32g-actorder_True").folderName());
        assertEquals("acme_tiny_refs_pr_1", RepoRef.of("acme/tiny", "refs/pr/1").folderName());
        assertEquals("acme/tiny:dev", RepoRef.of("acme/tiny", "dev").toString());
    }

    @Test
    void recordsRefuseInvalidValuesToo() {
        assertThrows(IllegalArgumentException.class, () -> RepoRef.of("../x"));
        assertThrows(IllegalArgumentException.class, () -> RepoRef.of("a/b", "x..y"));
        assertThrows(IllegalArgumentException.class, () -> RepoRef.of("a/b").withFile("../../etc/passwd"));
        assertThrows(IllegalArgumentException.class,
                () -> new io.loadstone.download.RemoteFile("C:/evil", 1, Optional.empty()));
        assertThrows(IllegalArgumentException.class,
                () -> new io.loadstone.download.RemoteFile("ok.bin", 1, Optional.of("not-a-sha")));
    }
}
