package io.loadstone.api.runtime;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Whiteboard: register a service of this type to hear about {@link ModelEvent}s.
 * Called on a runtime thread; return quickly.
 */
@ConsumerType
@FunctionalInterface
public interface ModelEventListener {

    void modelEvent(ModelEvent event);
}
