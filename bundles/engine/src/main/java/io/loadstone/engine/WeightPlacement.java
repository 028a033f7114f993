package io.loadstone.engine;

import java.util.Locale;

/**
 * Where a model's linear-layer weights live after loading with a
 * {@linkplain EngineOptions#memoryBudget() memory budget} (text-generation-webui's
 * {@code cpu-memory}).
 *
 * @param budgetBytes   the budget (0 = none: every matrix is placed as asked)
 * @param residentBytes bytes of matrices made resident: read into memory up front, or
 *                      quantized into memory
 * @param resident      matrices within the budget
 * @param mapped        matrices beyond it, left memory-mapped from the checkpoint on disk in their
 *                      stored type (not quantized), read by the OS when a token needs them
 * @param firstMapped   name of the first matrix beyond the budget, or "" when all fit
 */
public record WeightPlacement(long budgetBytes, long residentBytes, int resident, int mapped, String firstMapped) {

    /** One line for a user: what fit, and what stays on disk. */
    public String describe() {
        if (budgetBytes == 0) {
            return "no memory budget: " + resident + " linear matrices placed as asked";
        }
        String head = String.format(Locale.ROOT, "memory budget %.2f GiB: %d linear matrices resident (%.2f GiB)",
                budgetBytes / GIB, resident, residentBytes / GIB);
        return mapped == 0 ? head : head + ", " + mapped + " from " + firstMapped
                + " on stay memory-mapped from disk in their stored type";
    }

    private static final double GIB = 1024.0 * 1024 * 1024;
}
