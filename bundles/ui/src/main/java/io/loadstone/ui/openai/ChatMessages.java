package io.loadstone.ui.openai;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import io.loadstone.ui.http.ApiException;

/** Reads the {@code messages} array of a chat request. */
final class ChatMessages {

    private ChatMessages() {
    }

    static List<ChatMessage> parse(JsonElement messages) throws ApiException {
        if (messages == null || messages.isJsonNull()) {
            throw ApiException.badRequest("messages", "missing_parameter", "'messages' is required: an array of "
                    + "{\"role\": \"user\", \"content\": \"...\"}.");
        }
        if (!messages.isJsonArray() || messages.getAsJsonArray().isEmpty()) {
            throw ApiException.badRequest("messages", "invalid_type", "'messages' must be a non-empty array of "
                    + "{\"role\", \"content\"} objects.");
        }
        List<ChatMessage> out = new ArrayList<>();
        int i = 0;
        for (JsonElement e : messages.getAsJsonArray()) {
            String where = "messages[" + i++ + "]";
            if (!e.isJsonObject()) {
                throw ApiException.badRequest(where, "invalid_type", where + " must be an object with 'role' and "
                        + "'content'.");
            }
            JsonObject m = e.getAsJsonObject();
            JsonElement r = m.get("role");
            if (r == null || !r.isJsonPrimitive() || !r.getAsJsonPrimitive().isString()) {
                throw ApiException.badRequest(where + ".role", "missing_parameter", where + " needs a 'role' (system, "
                        + "user or assistant).");
            }
            String role = switch (r.getAsString().toLowerCase(Locale.ROOT)) {
                case "system", "developer" -> "system";
                case "user" -> "user";
                case "assistant" -> "assistant";
                default -> throw ApiException.badRequest(where + ".role", "unsupported_value", "Role '"
                        + r.getAsString() + "' in " + where + " is not supported; use system, user or assistant.");
            };
            out.add(new ChatMessage(role, content(m.get("content"), where, role)));
        }
        return out;
    }

    private static String content(JsonElement c, String where, String role) throws ApiException {
        if (c == null || c.isJsonNull()) {
            if (role.equals("assistant")) {
                return "";
            }
            throw ApiException.badRequest(where + ".content", "missing_parameter", where + " needs 'content'.");
        }
        if (c.isJsonPrimitive() && c.getAsJsonPrimitive().isString()) {
            return c.getAsString();
        }
        if (c.isJsonArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonElement part : c.getAsJsonArray()) {
                if (!part.isJsonObject()) {
                    throw ApiException.badRequest(where + ".content", "invalid_type", "Parts of " + where
                            + ".content must be objects like {\"type\": \"text\", \"text\": \"...\"}.");
                }
                JsonObject p = part.getAsJsonObject();
                String type = p.has("type") && p.get("type").isJsonPrimitive() ? p.get("type").getAsString() : "";
                if (!type.equals("text") || !p.has("text") || !p.get("text").isJsonPrimitive()) {
                    throw ApiException.badRequest(where + ".content", "unsupported_value", "Only text parts are "
                            + "supported in " + where + ".content (got type '" + type + "'): no loader here reads "
                            + "images or audio.");
                }
                sb.append(p.get("text").getAsString());
            }
            return sb.toString();
        }
        throw ApiException.badRequest(where + ".content", "invalid_type", where + ".content must be a string or an "
                + "array of text parts.");
    }
}
