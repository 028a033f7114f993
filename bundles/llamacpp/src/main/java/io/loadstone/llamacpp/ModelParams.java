package io.loadstone.llamacpp;

import java.util.List;

/**
 * How a model's weights are loaded (llama.cpp's {@code llama_model_params}).
 *
 * @param gpuLayers    layers to offload to the GPU (0 = none, -1 = all); needs
 *                     {@link LlamaRuntime#supportsGpuOffload()}
 * @param mainGpu      the GPU that holds the whole model when it is not split
 * @param tensorSplit  fraction of the model per GPU (empty = llama.cpp decides); at most
 *                     {@link LlamaRuntime#maxDevices()} entries
 * @param useMmap      map the file instead of reading it (lower RSS, shared page cache)
 * @param useMlock     lock the weights in RAM so the OS cannot swap them out
 * @param vocabOnly    load only the vocabulary (tokenizer use); no context is created then
 * @param checkTensors validate tensor data while loading (slow; for suspicious files)
 */
public record ModelParams(int gpuLayers, int mainGpu, List<Double> tensorSplit, boolean useMmap, boolean useMlock,
        boolean vocabOnly, boolean checkTensors) {

    public ModelParams {
        if (gpuLayers < -1) {
            throw new IllegalArgumentException("gpuLayers must be -1 (all), 0 or more: " + gpuLayers);
        }
        tensorSplit = tensorSplit == null ? List.of() : List.copyOf(tensorSplit);
        for (Double d : tensorSplit) {
            if (d.isNaN() || d < 0) {
                throw new IllegalArgumentException("tensorSplit entries must be >= 0: " + tensorSplit);
            }
        }
    }

    /** llama.cpp's defaults: CPU only, mmap on, no mlock. */
    public static ModelParams defaults() {
        return new ModelParams(0, 0, List.of(), true, false, false, false);
    }

    public ModelParams withGpuLayers(int n) {
        return new ModelParams(n, mainGpu, tensorSplit, useMmap, useMlock, vocabOnly, checkTensors);
    }

    public ModelParams withTensorSplit(List<Double> split) {
        return new ModelParams(gpuLayers, mainGpu, split, useMmap, useMlock, vocabOnly, checkTensors);
    }

    public ModelParams withMmap(boolean on) {
        return new ModelParams(gpuLayers, mainGpu, tensorSplit, on, useMlock, vocabOnly, checkTensors);
    }

    public ModelParams withMlock(boolean on) {
        return new ModelParams(gpuLayers, mainGpu, tensorSplit, useMmap, on, vocabOnly, checkTensors);
    }

    public ModelParams withVocabOnly(boolean on) {
        return new ModelParams(gpuLayers, mainGpu, tensorSplit, useMmap, useMlock, on, checkTensors);
    }
}
