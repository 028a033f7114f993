package io.loadstone.api.runtime;

import java.util.List;

import io.loadstone.api.loader.Capabilities;
import io.loadstone.api.loader.OptionSpec;

/**
 * An installed loader.
 *
 * @param id            loader id
 * @param description   one line
 * @param bundle        symbolic name of the bundle that provides it
 * @param bundleVersion that bundle's version
 * @param capabilities  what it can do
 * @param options       its options
 */
public record LoaderInfo(String id, String description, String bundle, String bundleVersion,
        Capabilities capabilities, List<OptionSpec> options) {

    public LoaderInfo {
        options = List.copyOf(options);
    }
}
