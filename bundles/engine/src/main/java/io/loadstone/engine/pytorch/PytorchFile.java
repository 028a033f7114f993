package io.loadstone.engine.pytorch;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.pytorch.Unpickler.StorageRef;
import io.loadstone.engine.pytorch.Unpickler.TensorRef;
import io.loadstone.engine.safetensors.TensorInfo;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code pytorch_model*.bin} written by {@code torch.save} (PyTorch 1.6 and later: a zip
 * archive), read without executing its pickle: the zip's central directory gives the records,
 * a restricted {@link Unpickler} reads {@code data.pkl} into tensor descriptions, and every
 * tensor becomes a {@link TensorInfo} whose bytes are a slice of the mapped file, exactly like a
 * safetensors tensor (so the engine does not know which format it reads).
 *
 * <p>Records used (torch/serialization.py {@code _save} / {@code _load}): {@code data.pkl} (the
 * pickle), {@code data/<key>} (one storage's raw bytes), {@code byteorder} ({@code little} or
 * {@code big}; absent is read as little, torch.load's default), {@code version} or {@code .data/version}
 * (the container format version). {@code .format_version}, {@code .storage_alignment} and
 * {@code .data/serialization_id} need not be read: offsets come from the zip headers.
 */
public final class PytorchFile {

    /**
     * Far above a real state dict's pickle (about 150 bytes a tensor: a 70B Llama's 723 tensors
     * take about 100 KB); larger means damage, or a file made to fill the heap.
     */
    static final long MAX_PICKLE_BYTES = 32L << 20;

    private static final String CONVERT = "Re-save it with torch.save from PyTorch 1.6 or later, or (better) convert it "
            + "to safetensors, e.g. with safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors').";

    private PytorchFile() {
    }

    /** Maps {@code file} into {@code arena} and returns its tensors by name, in pickle order. */
    public static Map<String, TensorInfo> open(Path file, Arena arena) throws ModelFileException {
        MemorySegment whole;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                throw TorchZip.bad(file, "is empty");
            }
            whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena).asReadOnly();
        } catch (NoSuchFileException e) {
            throw new ModelFileException(file, "file not found", "Check the model folder; download the model again if files are missing.", e);
        } catch (AccessDeniedException e) {
            throw new ModelFileException(file, "cannot be read (permission denied)", "Make the file readable for this user.", e);
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot be read: " + e.getMessage(), "Check the disk and the file.", e);
        }
        checkMagic(file, whole);
        TorchZip zip = TorchZip.read(file, whole);
        checkVersionAndByteOrder(file, zip);
        TorchZip.Entry pkl = zip.record("data.pkl");
        if (pkl == null) {
            throw new ModelFileException(file, "is a zip archive without " + zip.prefix() + "data.pkl, so not a torch.save checkpoint"
                    + (zip.record("constants.pkl") != null ? " (it is a TorchScript archive)" : ""),
                    "Use the model's safetensors or pytorch_model.bin files.");
        }
        Object root = Unpickler.load(file, pkl.name(), zip.bytes(pkl, MAX_PICKLE_BYTES));
        if (!(root instanceof Map<?, ?> dict)) {
            throw new ModelFileException(file, pkl.name() + " holds " + Unpickler.describe(root)
                    + ", not a state dict (a dict of tensor names to tensors)",
                    "Save the model's state_dict(), not the model object or a training checkpoint.");
        }
        Map<String, MemorySegment> storages = new LinkedHashMap<>();
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            if (!(e.getKey() instanceof String name)) {
                throw new ModelFileException(file, pkl.name() + " has the key " + Unpickler.describe(e.getKey())
                        + "; a state dict's keys are tensor names", "Save the model's state_dict().");
            }
            if (!(e.getValue() instanceof TensorRef t)) {
                throw new ModelFileException(file, "entry '" + name + "' of " + pkl.name() + " is "
                        + Unpickler.describe(e.getValue()) + ", not a tensor",
                        "Save only the model's state_dict() (a training checkpoint holds optimizer state too).");
            }
            out.put(name, tensor(file, zip, storages, types, name, t));
        }
        return Collections.unmodifiableMap(out);
    }

    /** Tells a zip from the formats before it, which are refused with what to do. */
    private static void checkMagic(Path file, MemorySegment whole) throws ModelFileException {
        long n = whole.byteSize();
        int b0 = Byte.toUnsignedInt(whole.get(ValueLayout.JAVA_BYTE, 0));
        if (n >= 4 && b0 == 'P' && whole.get(ValueLayout.JAVA_BYTE, 1) == 'K' && whole.get(ValueLayout.JAVA_BYTE, 2) == 3
                && whole.get(ValueLayout.JAVA_BYTE, 3) == 4) {
            return;
        }
        // torch.save before 1.6, or _use_new_zipfile_serialization=False: one pickle stream
        // (magic number, protocol, sys info, the object, then raw storages), no offsets to map.
        if (b0 == 0x80) {
            throw new ModelFileException(file, "is a legacy (pre-1.6, non-zip) PyTorch checkpoint; Loadstone reads only the zip "
                    + "format torch.save has written since PyTorch 1.6", CONVERT);
        }
        if (n > 262 && "ustar".equals(new String(whole.asSlice(257, 5).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII))) {
            throw new ModelFileException(file, "is a legacy tar-format PyTorch checkpoint (PyTorch 0.1-0.3)", CONVERT);
        }
        if (n >= 8 && "PYTORCH1".equals(new String(whole.asSlice(0, 8).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII))) {
            throw new ModelFileException(file, "is in the preview-release PyTorch archive format", CONVERT);
        }
        throw TorchZip.bad(file, "is not a PyTorch checkpoint: it starts with neither a zip header (PK\\3\\4) nor a pickle");
    }

    private static void checkVersionAndByteOrder(Path file, TorchZip zip) throws ModelFileException {
        TorchZip.Entry order = zip.record("byteorder");
        if (order != null) {
            String bo = new String(zip.bytes(order, 16), StandardCharsets.US_ASCII);
            if (bo.equals("big")) {
                throw new ModelFileException(file, "was saved on a big-endian machine (byteorder record 'big'); the engine "
                        + "maps little-endian data without copying", "Convert it to safetensors (which is little-endian) first.");
            }
            if (!bo.equals("little")) {
                throw TorchZip.bad(file, "byteorder record holds '" + bo + "', not 'little' or 'big'");
            }
        }
        TorchZip.Entry version = zip.record("version");
        if (version == null) {
            version = zip.record(".data/version");
        }
        if (version != null) {
            String v = new String(zip.bytes(version, 64), StandardCharsets.US_ASCII).strip();
            if (!v.matches("[0-9]{1,9}")) {
                throw TorchZip.bad(file, "version record holds '" + v + "', not a number");
            }
        }
    }

    private static TensorInfo tensor(Path file, TorchZip zip, Map<String, MemorySegment> storages, Map<String, String> types,
            String name, TensorRef t) throws ModelFileException {
        StorageRef s = t.storage();
        int elem = s.dtype().size();
        MemorySegment storage = storages.get(s.key());
        if (storage == null) {
            TorchZip.Entry rec = zip.record("data/" + s.key());
            if (rec == null) {
                throw TorchZip.bad(file, "tensor '" + name + "' uses storage '" + s.key() + "' but the archive has no record "
                        + zip.prefix() + "data/" + s.key());
            }
            long expected;
            try {
                expected = Math.multiplyExact(s.numel(), elem);
            } catch (ArithmeticException overflow) {
                throw TorchZip.bad(file, "storage '" + s.key() + "' claims " + s.numel() + " elements, which overflows");
            }
            if (rec.size() != expected) {
                throw TorchZip.bad(file, "storage record " + rec.name() + " holds " + rec.size() + " bytes but " + s.numel()
                        + " elements of " + s.typeName() + " need " + expected + " (storage too small or too large)");
            }
            storage = zip.mapped(rec);
            storages.put(s.key(), storage);
            types.put(s.key(), s.typeName());
        } else if (storage.byteSize() != s.numel() * elem || !s.typeName().equals(types.get(s.key()))) {
            // torch.save refuses to write views of one storage with different dtypes; a file
            // that has them was not written by it.
            throw TorchZip.bad(file, "storage '" + s.key() + "' is described twice, as " + types.get(s.key()) + " and as "
                    + s.numel() + " elements of " + s.typeName());
        }
        long[] size = t.size();
        long elements = 1;
        try {
            for (long d : size) {
                elements = Math.multiplyExact(elements, d);
            }
        } catch (ArithmeticException overflow) {
            throw TorchZip.bad(file, "tensor '" + name + "' has shape " + Arrays.toString(size) + " whose size overflows");
        }
        if (elements > 0 && !contiguous(size, t.stride())) {
            throw new ModelFileException(file, "tensor '" + name + "' is a non-contiguous view (shape " + Arrays.toString(size)
                    + ", stride " + Arrays.toString(t.stride()) + "); the engine maps row-major tensors without copying",
                    "Save the checkpoint with contiguous tensors ({k: v.contiguous() for k, v in state_dict.items()}), "
                            + "as Hugging Face's save_pretrained does, or convert it to safetensors.");
        }
        if (t.offset() > s.numel() || elements > s.numel() - t.offset()) {
            throw TorchZip.bad(file, "tensor '" + name + "' (shape " + Arrays.toString(size) + ", " + elements
                    + " elements from element " + t.offset() + ") does not fit in its storage '" + s.key() + "' of "
                    + s.numel() + " elements: storage too small for shape");
        }
        MemorySegment data = storage.asSlice(t.offset() * elem, elements * elem);
        return new TensorInfo(name, s.dtype(), size, file, data);
    }

    /**
     * Row-major contiguity as {@code Tensor.is_contiguous()} defines it: each stride equals the
     * product of the later sizes, except where a dimension has size 1 (its stride is never used).
     */
    static boolean contiguous(long[] size, long[] stride) {
        long expected = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= size[i];
        }
        return true;
    }
}
