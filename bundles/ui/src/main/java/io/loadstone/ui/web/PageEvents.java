package io.loadstone.ui.web;

/**
 * Pushes a named server-sent event to every open page. Private to the UI bundle: it lets parts of
 * the page API that are not runtime events (downloads) reach the pages over the one stream each
 * page already follows.
 */
public interface PageEvents {

    /** Sends {@code event} with JSON {@code data} to every page; returns at once. */
    void publish(String event, String data);
}
