/**
 * The loader SPI: what a bundle implements to teach Loadstone a model format.
 *
 * <p>A loader bundle registers a {@link io.loadstone.api.loader.ModelLoader} service.
 * The core discovers it at run time, asks it to {@linkplain
 * io.loadstone.api.loader.ModelLoader#detect detect} models, and {@linkplain
 * io.loadstone.api.loader.ModelLoader#load loads} them. The service may disappear at any
 * time (bundle stopped, updated, uninstalled): the core then closes every model it loaded.
 *
 * <p>Versioned semantically: a consumer (a third-party loader) imports {@code [1.0,2)}.
 */
@Export
@Version("1.3.0")
package io.loadstone.api.loader;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
