package io.loadstone.ui.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class ChatPromptTest {

    private static final List<ChatMessage> CHAT = List.of(new ChatMessage("system", "Be brief."),
            new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello."), new ChatMessage("user", "Why?"));

    @Test
    void chatMlFromQwenStyleTemplate() throws Exception {
        ChatPrompt p = ChatPrompt.render("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' "
                + "+ message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                + "{{ '<|im_start|>assistant\\n' }}{% endif %}", CHAT);
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                + "Hello.<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n", p.text());
        assertEquals(List.of("<|im_end|>"), p.stop());
        assertEquals("template", p.format());
    }

    @Test
    void llama3HeadersWithoutBosBecauseTheTokenizerAddsIt() throws Exception {
        ChatPrompt p = ChatPrompt.family("{{ bos_token }}<|start_header_id|>...", List.of(new ChatMessage("user",
                "Hi ")));
        assertEquals("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant"
                + "<|end_header_id|>\n\n", p.text());
        assertEquals("llama3", p.format());
    }

    @Test
    void gemmaFoldsTheSystemPromptIntoTheFirstUserTurn() throws Exception {
        ChatPrompt p = ChatPrompt.family("<start_of_turn>", CHAT);
        assertEquals("<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
                + "<start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n", p.text());
    }

    @Test
    void llama2AndMistralInstructionFormats() throws Exception {
        assertEquals("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello.</s><s>[INST] Why? [/INST]",
                ChatPrompt.family("[INST] <<SYS>>", CHAT).text());
        assertEquals("[INST] Be brief.\n\nHi [/INST] Hello.</s><s>[INST] Why? [/INST]",
                ChatPrompt.family("[INST]", CHAT).text());
    }

    @Test
    void noTemplateGivesAPlainTranscriptThatStopsAtTheNextUserTurn() throws Exception {
        ChatPrompt p = ChatPrompt.render("", CHAT);
        assertEquals("Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: Why?\nAssistant:", p.text());
        assertEquals(List.of("\nUser:"), p.stop());
        assertEquals("plain", p.format());
    }
}
