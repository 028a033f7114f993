/**
 * A Java API over one native llama.cpp build, called through FFM ({@code java.lang.foreign}).
 *
 * <p>The {@link io.loadstone.llamacpp.LlamaRuntime} service is registered when a native
 * fragment for this platform is attached; {@link io.loadstone.llamacpp.LlamaLibrary#load}
 * gives the same API outside OSGi (tests, benchmarks). Nothing here depends on one
 * llama.cpp build: the binding for the fragment's {@code Loadstone-Native-Build} sits in
 * a private package.
 */
@Export
@Version("1.3.0")
package io.loadstone.llamacpp;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
