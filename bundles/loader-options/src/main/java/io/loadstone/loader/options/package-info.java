/**
 * text-generation-webui's loader options, each declared once: {@link io.loadstone.loader.options.WebuiOptions}.
 * A loader lists the declarations it offers; where an option cannot work on its backend it marks the
 * declaration {@linkplain io.loadstone.api.loader.OptionSpec#notApplicable not applicable} with the reason,
 * so name, type, range and default never differ between loaders.
 */
@Export
@Version("1.0.0")
package io.loadstone.loader.options;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
