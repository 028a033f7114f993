package io.loadstone.ui.download;

import com.google.gson.JsonObject;

import io.loadstone.ui.http.ApiException;

/**
 * The Model tab's "Download model or LoRA" box as the page API sees it. Private to the UI bundle. It exists
 * only while a {@code io.loadstone.download.ModelDownloader} does ({@link HubDownloadDesk}), so the servlet
 * that serves the box never links against the download bundle and the UI runs without it.
 */
public interface DownloadDesk {

    /** "Get file list": {@code {repo, branch, files:[{path, size, gguf}], totalBytes}}. */
    JsonObject files(String repo) throws ApiException;

    /** Plans and starts a download; 409 with the GGUF choices when a file must be chosen. */
    JsonObject start(String repo, String file) throws ApiException, ChoiceNeeded;

    /** Running jobs and the most recent finished ones, newest first. */
    JsonObject list();

    /** Cancels a job; partial files stay for a resume. */
    JsonObject cancel(String id) throws ApiException;
}
