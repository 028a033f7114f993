package io.loadstone.bench;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The options the engine-against-llama.cpp mains share: {@code --layers --threads --prompt --gen
 * --rounds --dir --keep}.
 */
record BenchArgs(int layers, int threads, int prompt, int gen, int rounds, Path dir, boolean keep) {

    /** {@code args} over these defaults; an unknown argument is refused with its name. */
    static BenchArgs parse(String[] args, BenchArgs defaults) {
        return parse(args, defaults, Map.of());
    }

    /** As above, plus a main's own options that take a value ({@code --formats a,b}). */
    static BenchArgs parse(String[] args, BenchArgs defaults, Map<String, Consumer<String>> extra) {
        int layers = defaults.layers;
        int threads = defaults.threads;
        int prompt = defaults.prompt;
        int gen = defaults.gen;
        int rounds = defaults.rounds;
        Path dir = defaults.dir;
        boolean keep = defaults.keep;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--prompt" -> prompt = Integer.parseInt(args[++i]);
                case "--gen" -> gen = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                case "--keep" -> keep = true;
                default -> {
                    Consumer<String> option = extra.get(args[i]);
                    if (option == null || i + 1 == args.length) {
                        throw new IllegalArgumentException("unknown argument " + args[i]);
                    }
                    option.accept(args[++i]);
                }
            }
        }
        return new BenchArgs(layers, threads, prompt, gen, rounds, dir, keep);
    }
}
