package io.loadstone.api.runtime;

import java.time.Instant;

import io.loadstone.api.loader.ModelInfo;

/**
 * A model in memory.
 *
 * @param name     model name
 * @param info     what the loader reported
 * @param loadedAt when the load finished
 * @param lastUsed when it last generated (for least-recently-used eviction)
 * @param estimatedBytes memory it is counted for against the runtime's memory budget
 */
public record LoadedModelState(String name, ModelInfo info, Instant loadedAt, Instant lastUsed, long estimatedBytes) {
}
