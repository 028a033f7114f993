package io.loadstone.ui.openai;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns chat messages into the text a model continues. Models ship a Jinja chat template,
 * which is rendered as it is when it stays within {@link ChatTemplate}'s subset (nearly all
 * do). A template beyond the subset is recognised by its family's marker tokens (ChatML,
 * Llama 3, Llama 2 / Mistral [INST], Gemma, Phi-3) and formatted as that family's templates
 * do. No template at all gets a plain "User:/Assistant:" transcript with a stop string,
 * which small base models (like the starter model) continue sensibly.
 *
 * @param text  the prompt
 * @param stop  stop strings the format needs (the next turn's marker)
 * @param format which format was used, for logs and the UI
 */
public record ChatPrompt(String text, List<String> stop, String format) {

    private static final System.Logger LOG = System.getLogger(ChatPrompt.class.getName());

    /**
     * @throws ChatTemplate.Refused when the model's template rejects the conversation (for
     *         example roles that do not alternate); its message says why
     */
    public static ChatPrompt render(String template, List<ChatMessage> messages) throws ChatTemplate.Refused {
        String t = template == null ? "" : template;
        if (!t.isBlank()) {
            try {
                return new ChatPrompt(ChatTemplate.parse(t).render(messages, true), stops(t), "template");
            } catch (ChatTemplate.Unsupported e) {
                LOG.log(System.Logger.Level.DEBUG, "Chat template beyond the supported subset (" + e.getMessage()
                        + "); formatting by its family instead");
            }
        }
        return family(t, messages);
    }

    /** The end-of-turn markers of the known families, as stop strings. */
    static List<String> stops(String template) {
        List<String> out = new ArrayList<>();
        for (String m : List.of("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>")) {
            if (template.contains(m)) {
                out.add(m);
            }
        }
        return out;
    }

    static ChatPrompt family(String t, List<ChatMessage> messages) {
        if (t.contains("<|im_start|>")) {
            return chatMl(messages);
        }
        if (t.contains("<|start_header_id|>")) {
            return llama3(messages);
        }
        if (t.contains("<start_of_turn>")) {
            return gemma(messages);
        }
        if (t.contains("<|user|>") && t.contains("<|end|>")) {
            return phi3(messages);
        }
        if (t.contains("[INST]")) {
            return inst(messages, t.contains("<<SYS>>"));
        }
        return plain(messages);
    }

    private static ChatPrompt chatMl(List<ChatMessage> messages) {
        StringBuilder sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
        }
        sb.append("<|im_start|>assistant\n");
        return new ChatPrompt(sb.toString(), List.of("<|im_end|>"), "chatml");
    }

    private static ChatPrompt llama3(List<ChatMessage> messages) {
        // BOS (<|begin_of_text|>) is added by the tokenizer (addBos), as llama.cpp does.
        StringBuilder sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n")
                    .append(m.content().strip()).append("<|eot_id|>");
        }
        sb.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return new ChatPrompt(sb.toString(), List.of("<|eot_id|>"), "llama3");
    }

    private static ChatPrompt gemma(List<ChatMessage> messages) {
        // Gemma has no system role: its template puts the system text in front of the first user turn.
        StringBuilder sb = new StringBuilder();
        String pendingSystem = "";
        for (ChatMessage m : messages) {
            if (m.role().equals("system")) {
                pendingSystem += m.content().strip() + "\n\n";
                continue;
            }
            String role = m.role().equals("assistant") ? "model" : "user";
            String content = m.content().strip();
            if (role.equals("user") && !pendingSystem.isEmpty()) {
                content = pendingSystem + content;
                pendingSystem = "";
            }
            sb.append("<start_of_turn>").append(role).append('\n').append(content).append("<end_of_turn>\n");
        }
        sb.append("<start_of_turn>model\n");
        return new ChatPrompt(sb.toString(), List.of("<end_of_turn>"), "gemma");
    }

    private static ChatPrompt phi3(List<ChatMessage> messages) {
        StringBuilder sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|").append(m.role()).append("|>\n").append(m.content()).append("<|end|>\n");
        }
        sb.append("<|assistant|>\n");
        return new ChatPrompt(sb.toString(), List.of("<|end|>"), "phi3");
    }

    private static ChatPrompt inst(List<ChatMessage> messages, boolean sysBlock) {
        // Llama 2 wraps the system text in <<SYS>>; Mistral's template just prepends it to the first user turn.
        StringBuilder sb = new StringBuilder();
        String system = "";
        boolean first = true;
        for (ChatMessage m : messages) {
            switch (m.role()) {
                case "system" -> system += m.content().strip();
                case "user" -> {
                    String content = m.content().strip();
                    if (!system.isEmpty()) {
                        content = (sysBlock ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" : system + "\n\n") + content;
                        system = "";
                    }
                    sb.append(first ? "" : "<s>").append("[INST] ").append(content).append(" [/INST]");
                    first = false;
                }
                default -> sb.append(' ').append(m.content().strip()).append("</s>");
            }
        }
        return new ChatPrompt(sb.toString(), List.of("[INST]"), sysBlock ? "llama2" : "mistral");
    }

    private static ChatPrompt plain(List<ChatMessage> messages) {
        StringBuilder sb = new StringBuilder();
        List<String> systems = new ArrayList<>();
        for (ChatMessage m : messages) {
            if (m.role().equals("system")) {
                systems.add(m.content().strip());
            }
        }
        if (!systems.isEmpty()) {
            sb.append(String.join("\n", systems)).append("\n\n");
        }
        for (ChatMessage m : messages) {
            switch (m.role()) {
                case "user" -> sb.append("User: ").append(m.content().strip()).append('\n');
                case "assistant" -> sb.append("Assistant: ").append(m.content().strip()).append('\n');
                default -> {
                }
            }
        }
        sb.append("Assistant:");
        return new ChatPrompt(sb.toString(), List.of("\nUser:"), "plain");
    }
}
