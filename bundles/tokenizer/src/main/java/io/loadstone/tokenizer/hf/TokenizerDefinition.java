package io.loadstone.tokenizer.hf;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything read from a tokenizer folder, before the native tokenizer is built.
 *
 * @param folder        the folder
 * @param jsonFile      its tokenizer.json
 * @param json          the content of tokenizer.json
 * @param vocabulary    the id/token tables of tokenizer.json
 * @param addBos        tokenizer_config.json's add_bos_token, or null when absent
 * @param addEos        tokenizer_config.json's add_eos_token, or null when absent
 * @param specialTokens named special tokens (bos_token, eos_token, ...) and their text
 * @param generationBos generation_config.json's bos_token_id, or null
 * @param generationEos generation_config.json's eos_token_id(s), possibly empty
 * @param chatTemplate  the chat template, if any
 */
public record TokenizerDefinition(Path folder, Path jsonFile, String json, Vocabulary vocabulary, Boolean addBos,
        Boolean addEos, Map<String, String> specialTokens, Integer generationBos, List<Integer> generationEos,
        Optional<String> chatTemplate) {
}
