package io.loadstone.ui.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Real chat templates as models ship them, rendered as Hugging Face's apply_chat_template does. */
class ChatTemplateTest {

    private static final List<ChatMessage> CHAT = List.of(new ChatMessage("user", "Hi"),
            new ChatMessage("assistant", "Hello."), new ChatMessage("user", "Why?"));

    private static String render(String template, List<ChatMessage> messages) throws Exception {
        return ChatTemplate.parse(template).render(messages, true);
    }

    @Test
    void llama3Instruct() throws Exception {
        String t = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                + "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
                + "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                + "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
                + "<|end_header_id|>\\n\\n' }}{% endif %}";
        assertEquals("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant"
                + "<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", render(t, CHAT));
    }

    private static final String MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == "
            + "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
            + "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
            + "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + "
            + "eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
            + "{% endif %}{% endfor %}";

    @Test
    void mistralInstructAndItsRoleCheck() throws Exception {
        assertEquals("[INST] Hi [/INST]Hello. [INST] Why? [/INST]", render(MISTRAL, CHAT));
        ChatTemplate.Refused e = assertThrows(ChatTemplate.Refused.class, () -> render(MISTRAL, List.of(
                new ChatMessage("user", "a"), new ChatMessage("user", "b"))));
        assertTrue(e.getMessage().contains("must alternate"), e.getMessage());
    }

    @Test
    void zephyrWithTrimBlocksAndLstripBlocks() throws Exception {
        String t = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
                + "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + "
                + "message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
                + "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n"
                + "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
        assertEquals("<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n", render(t, List.of(
                new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi"))));
    }

    @Test
    void gemmaRefusesASystemRole() throws Exception {
        String t = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
                + "supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
                + "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}"
                + "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = "
                + "message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
                + "'<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}"
                + "{% endif %}";
        assertEquals("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
                + "<start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n", render(t, CHAT));
        assertThrows(ChatTemplate.Refused.class, () -> render(t, List.of(new ChatMessage("system", "x"),
                new ChatMessage("user", "y"))));
    }

    @Test
    void namespaceCarriesValuesOutOfLoopsAndDashesTrimWhitespace() throws Exception {
        String t = "{%- set ns = namespace(found=false) -%}\n{%- for m in messages -%}\n  {%- if m.role == 'system' "
                + "-%}{%- set ns.found = true -%}{%- endif -%}\n{%- endfor -%}\n{%- if not ns.found -%}\n"
                + "{{- '<|im_start|>system\\nYou are helpful.<|im_end|>\\n' -}}\n{%- endif %}\n"
                + "{%- for m in messages %}\n    {{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}\n"
                + "{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";
        assertEquals("<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n", render(t, List.of(new ChatMessage("user", "Hi"))));
        assertEquals("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                render(t, List.of(new ChatMessage("system", "S"), new ChatMessage("user", "Hi"))));
    }

    @Test
    void expressionsFiltersAndSlices() throws Exception {
        String t = "{{ messages[1:] | length }}|{{ messages[-1].content | upper }}|{{ 'a,b'.split(',') | join('+') }}"
                + "|{{ 7 // 2 }}{{ 7 % 2 }}|{{ 'x' ~ 1 }}|{{ none is none }}|{{ missing is defined }}"
                + "|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}"
                + "|{% for m in messages if m.role == 'user' %}{{ loop.index }}{{ m.content[0] }}{% endfor %}"
                + "|{{ 'yes' if messages else 'no' }}|{{ ' pad '.strip() }}|{{ {'k': 'v'}['k'] }}";
        assertEquals("2|WHY?|a+b|31|x1|True|False|2|1H2W|yes|pad|v", render(t, CHAT));
    }

    @Test
    void constructsOutsideTheSubsetAreRefusedNotHalfRendered() {
        assertThrows(ChatTemplate.Unsupported.class, () -> render("{% macro f() %}x{% endmacro %}{{ f() }}", CHAT));
        assertThrows(ChatTemplate.Unsupported.class, () -> render("{{ messages | wordwrap }}", CHAT));
        assertThrows(ChatTemplate.Unsupported.class, () -> render("{% if true %}open", CHAT));
    }

    @Test
    void unsupportedTemplateFallsBackToItsFamily() throws Exception {
        ChatPrompt p = ChatPrompt.render("{% macro m() %}{% endmacro %}<|im_start|>", List.of(new ChatMessage("user",
                "Hi")));
        assertEquals("chatml", p.format());
        assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", p.text());
    }
}
