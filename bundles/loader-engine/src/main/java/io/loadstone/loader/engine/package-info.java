/**
 * Shared machinery of the loaders that run Hugging Face folders on the Java engine: subclass
 * {@link io.loadstone.loader.engine.EngineLoader} with an id, an option list
 * ({@link io.loadstone.loader.engine.EnginePlan#offer} of {@code WebuiOptions} declarations), a sampler set
 * ({@link io.loadstone.loader.engine.Samplers}) and a ranking ({@link io.loadstone.loader.engine.Ranking}).
 */
@Export
@Version("1.0.0")
package io.loadstone.loader.engine;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
