/**
 * Runs llama.cpp out of the server's process: {@link io.loadstone.llamacpp.runner.RunnerRuntime}
 * is a {@link io.loadstone.llamacpp.LlamaRuntime} that starts one runner JVM
 * ({@link io.loadstone.llamacpp.runner.RunnerMain}) per model, hosting whichever binding matches
 * the library's build, and talks to it over stdin/stdout with logits in a memory-mapped file.
 * A runner that crashes, aborts or runs out of memory fails that model's calls with
 * {@link io.loadstone.llamacpp.runner.RunnerStoppedException}; the server goes on.
 *
 * <p>Not exported: the runtime bundle registers the service, tests and benchmarks use the
 * classes on a plain class path.
 */
package io.loadstone.llamacpp.runner;
