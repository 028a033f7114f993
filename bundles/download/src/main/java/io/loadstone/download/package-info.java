/**
 * Downloading models and LoRAs from the Hugging Face Hub: the {@link io.loadstone.download.ModelDownloader}
 * service and the values it works with. Front ends (web UI, HTTP API, shell, CLI) parse what the user typed
 * ({@code user/model}, {@code user/model:branch}, Hub URLs), show the file list, make a
 * {@link io.loadstone.download.DownloadPlan}, then start a {@link io.loadstone.download.DownloadJob} and watch
 * its {@link io.loadstone.download.DownloadEvent}s.
 */
@Export
@Version("1.0.0")
package io.loadstone.download;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
