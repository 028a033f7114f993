/**
 * The runtime's own services, for bundles that drive Loadstone (web UI, API, shell,
 * third-party front ends): the {@link io.loadstone.api.runtime.ModelManager} and its events; {@link io.loadstone.api.runtime.ModelLogits} for evaluation (1.1); reload, tokenize, detokenize and loader refusals (1.3); {@link io.loadstone.api.runtime.ByteSize}, the one way sizes are written (1.4).
 */
@Export
@Version("1.4.0")
package io.loadstone.api.runtime;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
