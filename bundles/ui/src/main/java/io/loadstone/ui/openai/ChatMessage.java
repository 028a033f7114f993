package io.loadstone.ui.openai;

/** One chat turn, roles normalised to system, user and assistant. */
public record ChatMessage(String role, String content) {
}
