package io.loadstone.engine.pytorch;

import io.loadstone.engine.ModelFileException;
import io.loadstone.engine.safetensors.DType;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pickle reader that understands only what {@code torch.save} writes for a dictionary of
 * tensors, and never runs anything: there is no class lookup, no import and no call into
 * anything but the handful of fixed Java functions below that stand in for the PyTorch
 * functions the file names.
 *
 * <p>What torch.save emits (torch/serialization.py {@code _save}: {@code pickle.Pickler} with
 * protocol 2 and a {@code persistent_id} for storages; torch/_tensor.py
 * {@code Tensor._reduce_ex_internal}): a {@code dict} or {@code collections.OrderedDict}
 * ({@code EMPTY_DICT} or {@code GLOBAL collections OrderedDict} + {@code EMPTY_TUPLE REDUCE}, then
 * {@code MARK key value ... SETITEMS}, an {@code OrderedDict} state dict followed by
 * {@code BUILD} of its {@code _metadata} attribute), every tensor as
 * {@code GLOBAL torch._utils _rebuild_tensor_v2} applied ({@code REDUCE}) to the tuple
 * {@code (storage, storage_offset, size, stride, requires_grad, backward_hooks)} where
 * backward_hooks is an empty {@code OrderedDict} and storage is a persistent id
 * ({@code BINPERSID}) of the tuple {@code ('storage', torch.<Type>Storage, key, location, numel)}:
 * the storage's bytes are the zip record {@code data/<key>}. torch 2.x still names the legacy
 * typed storage classes here ({@code TypedStorage._pickle_storage_type()}, e.g.
 * {@code torch.BFloat16Storage}), and {@code torch.UntypedStorage} for a bare byte storage.
 * Objects are memoised with {@code BINPUT}/{@code LONG_BINPUT} and reused with
 * {@code BINGET}/{@code LONG_BINGET}. Opcode semantics: CPython Lib/pickletools.py (the opcode
 * table and its documentation) and Lib/pickle.py.
 *
 * <p>Protocol 4's framing opcodes ({@code FRAME}, {@code MEMOIZE}, {@code SHORT_BINUNICODE},
 * {@code STACK_GLOBAL}) are read too, for files saved with {@code pickle_protocol=4}. Any other
 * opcode, and any global outside the list, ends the read with a {@link ModelFileException}
 * before anything else happens.
 */
final class Unpickler {

    /** Python's None. */
    enum None {
        NONE
    }

    /** A module-level name the pickle refers to ({@code GLOBAL module name}). */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** A Python tuple. */
    record Tuple(List<Object> items) {
    }

    /** The persistent id of one storage: the bytes of record {@code data/<key>}. */
    record StorageRef(DType dtype, String typeName, String key, String location, long numel) {
    }

    /** A tensor as {@code _rebuild_tensor_v2} would build it, over a storage, in elements. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
    }

    /** torch's legacy typed storage classes (torch/storage.py) and the dtype of their elements. */
    static final Map<String, DType> STORAGES = Map.ofEntries(
            Map.entry("FloatStorage", DType.F32), Map.entry("HalfStorage", DType.F16),
            Map.entry("BFloat16Storage", DType.BF16), Map.entry("DoubleStorage", DType.F64),
            Map.entry("LongStorage", DType.I64), Map.entry("IntStorage", DType.I32),
            Map.entry("ShortStorage", DType.I16), Map.entry("CharStorage", DType.I8),
            Map.entry("ByteStorage", DType.U8), Map.entry("BoolStorage", DType.BOOL),
            Map.entry("UntypedStorage", DType.U8));

    static final String REBUILD_V2 = "torch._utils._rebuild_tensor_v2";
    static final String REBUILD_V1 = "torch._utils._rebuild_tensor";
    static final String REBUILD_PARAMETER = "torch._utils._rebuild_parameter";
    static final String ORDERED_DICT = "collections.OrderedDict";

    private static final String NEVER = "Loadstone never executes pickled code: it reads only the tensor records that "
            + "torch.save writes (" + ORDERED_DICT + ", " + REBUILD_V2 + ", torch.*Storage)";

    private static final Object MARK = new Object();

    /**
     * Bounds for hostile input (a real state dict stays below a few dozen entries of stack and
     * about ten memo slots a tensor): beyond them the file is refused instead of filling the heap.
     */
    static final int MAX_STACK = 1 << 20;
    static final int MAX_MEMO = 1 << 22;

    private final Path file;
    private final String record;
    private final byte[] b;
    private int pos;
    private int opStart;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private Unpickler(Path file, String record, byte[] bytes) {
        this.file = file;
        this.record = record;
        this.b = bytes;
    }

    /** Reads the pickle {@code bytes} (record {@code record} of {@code file}) into plain Java values. */
    static Object load(Path file, String record, byte[] bytes) throws ModelFileException {
        return new Unpickler(file, record, bytes).run();
    }

    private Object run() throws ModelFileException {
        while (true) {
            opStart = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > 5) {
                        throw corrupt("pickle protocol " + proto + " is newer than any Python writes");
                    }
                }
                case 0x95 -> skip(8); // FRAME (protocol 4): only a length hint
                case '.' -> { // STOP
                    Object result = pop();
                    if (!stack.isEmpty() || !marks.isEmpty()) {
                        throw corrupt("STOP with " + stack.size() + " object(s) left on the stack");
                    }
                    return result;
                }
                case '(' -> { // MARK
                    marks.add(stack.size());
                    push(MARK);
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case '}' -> push(new LinkedHashMap<Object, Object>()); // EMPTY_DICT
                case ']' -> push(new ArrayList<Object>()); // EMPTY_LIST
                case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                case 't' -> push(new Tuple(popMark())); // TUPLE
                case 0x85 -> push(tuple(1)); // TUPLE1
                case 0x86 -> push(tuple(2)); // TUPLE2
                case 0x87 -> push(tuple(3)); // TUPLE3
                case 'N' -> push(None.NONE);
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) (u8() | u8() << 8)); // BININT2
                case 'J' -> push((long) i32()); // BININT: signed
                case 0x8a -> push(longN(u8())); // LONG1
                case 0x8b -> push(longN(length(i32(), "LONG4"))); // LONG4
                case 'G' -> push(Double.longBitsToDouble(be64())); // BINFLOAT: big-endian
                case 'X' -> push(utf8(length(i32(), "BINUNICODE"))); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(length(le64(), "BINUNICODE8"))); // BINUNICODE8
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 'B' -> push(bytes(length(i32(), "BINBYTES"))); // BINBYTES
                case 'q' -> memoPut(u8()); // BINPUT
                case 'r' -> memoPut(Integer.toUnsignedLong(i32())); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'h' -> push(get(u8())); // BINGET
                case 'j' -> push(get(Integer.toUnsignedLong(i32()))); // LONG_BINGET
                case 'c' -> push(global(line(), line())); // GLOBAL "module\nname\n"
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw corrupt("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'Q' -> push(persistentLoad(pop())); // BINPERSID
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object callable = pop();
                    push(reduce(callable, args));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                case 's' -> { // SETITEM
                    Object value = pop();
                    Object key = key(pop());
                    dict(peek()).put(key, value);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    if (items.size() % 2 != 0) {
                        throw corrupt("SETITEMS with an odd number of items");
                    }
                    Map<Object, Object> d = dict(peek());
                    for (int i = 0; i < items.size(); i += 2) {
                        d.put(key(items.get(i)), items.get(i + 1));
                    }
                }
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek()).add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                default -> throw new ModelFileException(file, record + ": unknown or unsupported pickle opcode 0x"
                        + String.format("%02x", op) + printable(op) + " at byte " + opStart + "; " + NEVER,
                        "Use the model's safetensors version, or re-save the state dict with torch.save.");
            }
        }
    }

    /**
     * Resolves a global name to a marker. Nothing is looked up or imported: names outside the
     * list are refused here, before any REDUCE could apply them.
     */
    private Object global(String module, String name) throws ModelFileException {
        Global g = new Global(module, name);
        String q = g.qualified();
        if ((module.equals("torch") && STORAGES.containsKey(name)) || q.equals(REBUILD_V2) || q.equals(REBUILD_V1)
                || q.equals(REBUILD_PARAMETER) || q.equals(ORDERED_DICT)) {
            return g;
        }
        throw new ModelFileException(file, record + " refers to the Python global '" + q + "' (byte " + opStart
                + "), which is not part of a tensor checkpoint; " + NEVER + ", so the file was refused without running it",
                "Use the model's safetensors version. If you trust the file, convert it to safetensors in Python "
                        + "(the file may have been crafted to run code on load).");
    }

    /** torch/serialization.py {@code _load.persistent_load}: ('storage', type, key, location, numel). */
    private Object persistentLoad(Object pid) throws ModelFileException {
        if (!(pid instanceof Tuple(List<Object> t)) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw corrupt("persistent id " + describe(pid) + " is not a ('storage', type, key, location, numel) tuple");
        }
        if (!(t.get(1) instanceof Global(String m, String n)) || !m.equals("torch") || !STORAGES.containsKey(n)) {
            throw corrupt("storage type " + describe(t.get(1)) + " is not a torch storage class");
        }
        if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String location) || !(t.get(4) instanceof Long numel)
                || numel < 0) {
            throw corrupt("storage id " + describe(pid) + " needs a key string, a location string and a non-negative element count");
        }
        return new StorageRef(STORAGES.get(n), n, key, location, numel);
    }

    private Object reduce(Object callable, Object args) throws ModelFileException {
        if (!(callable instanceof Global g)) {
            throw corrupt("REDUCE applies " + describe(callable) + ", which is not a function");
        }
        if (!(args instanceof Tuple(List<Object> a))) {
            throw corrupt("REDUCE arguments are " + describe(args) + ", not a tuple");
        }
        switch (g.qualified()) {
            case ORDERED_DICT -> {
                if (!a.isEmpty()) {
                    throw corrupt("OrderedDict is built with arguments " + describe(args) + "; torch.save writes none");
                }
                return new LinkedHashMap<Object, Object>();
            }
            case REBUILD_V2, REBUILD_V1 -> {
                // torch/_utils.py: _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                // backward_hooks, metadata=None) is _rebuild_tensor (storage.set_ of offset, size,
                // stride) plus the grad flag and hooks, which a reader of weights ignores.
                int want = g.qualified().equals(REBUILD_V1) ? 4 : 6;
                if (a.size() != want && !(want == 6 && a.size() == 7)) {
                    throw corrupt(g.name() + " gets " + a.size() + " arguments, not " + want);
                }
                if (!(a.get(0) instanceof StorageRef s)) {
                    throw corrupt(g.name() + "'s first argument is " + describe(a.get(0)) + ", not a storage");
                }
                if (!(a.get(1) instanceof Long offset) || offset < 0) {
                    throw corrupt(g.name() + "'s storage offset is " + describe(a.get(1)));
                }
                long[] size = longs(a.get(2), "size");
                long[] stride = longs(a.get(3), "stride");
                if (size.length != stride.length) {
                    throw corrupt(g.name() + " has size " + Arrays.toString(size) + " but stride " + Arrays.toString(stride));
                }
                if (a.size() == 7 && !(a.get(6) instanceof Map<?, ?> meta && meta.isEmpty())) {
                    throw corrupt("tensor metadata " + describe(a.get(6)) + " (conjugate/negative views are not read)");
                }
                return new TensorRef(s, offset, size, stride);
            }
            case REBUILD_PARAMETER -> {
                // _rebuild_parameter(data, requires_grad, backward_hooks): the Parameter's tensor.
                if (a.size() != 3 || !(a.get(0) instanceof TensorRef t)) {
                    throw corrupt("_rebuild_parameter gets " + describe(args) + ", not (tensor, requires_grad, hooks)");
                }
                return t;
            }
            default -> throw corrupt("REDUCE applies " + g.qualified() + ", which builds no object (a storage class is "
                    + "only valid inside a persistent id)");
        }
    }

    /** BUILD sets attributes; on a state dict only {@code _metadata}, which carries no weights. */
    private void build(Object target, Object state) throws ModelFileException {
        if (!(target instanceof Map<?, ?>)) {
            throw corrupt("BUILD on " + describe(target) + "; torch.save only sets attributes of a state dict");
        }
        if (!(state instanceof Map<?, ?> || state == None.NONE
                || state instanceof Tuple(List<Object> t) && t.size() == 2)) {
            throw corrupt("BUILD with state " + describe(state));
        }
    }

    private long[] longs(Object o, String what) throws ModelFileException {
        if (!(o instanceof Tuple(List<Object> t))) {
            throw corrupt("tensor " + what + " is " + describe(o) + ", not a tuple of integers");
        }
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(t.get(i) instanceof Long l) || l < 0) {
                throw corrupt("tensor " + what + " " + describe(o) + " holds something other than non-negative integers");
            }
            out[i] = l;
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) throws ModelFileException {
        if (o instanceof Map<?, ?> m) {
            return (Map<Object, Object>) m;
        }
        throw corrupt("SETITEM(S) on " + describe(o) + ", not a dict");
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) throws ModelFileException {
        if (o instanceof ArrayList<?> l) {
            return (List<Object>) l;
        }
        throw corrupt("APPEND(S) on " + describe(o) + ", not a list");
    }

    private Tuple tuple(int n) throws ModelFileException {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) {
            items[i] = pop();
        }
        return new Tuple(Arrays.asList(items));
    }

    private void push(Object o) throws ModelFileException {
        if (stack.size() >= MAX_STACK) {
            throw corrupt("more than " + MAX_STACK + " objects on the pickle stack");
        }
        stack.add(o);
    }

    private void memoPut(long index) throws ModelFileException {
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) {
            throw corrupt("more than " + MAX_MEMO + " memo slots");
        }
        memo.put(index, peek());
    }

    /**
     * Dict keys are names (and, in {@code _metadata}, the empty string): only hash-cheap scalars
     * are accepted, so nested tuples cannot make hashing take exponential time.
     */
    private Object key(Object k) throws ModelFileException {
        if (k instanceof String || k instanceof Long || k instanceof Boolean || k == None.NONE) {
            return k;
        }
        throw corrupt("dict key " + describe(k) + " (a state dict's keys are tensor names)");
    }

    private Object pop() throws ModelFileException {
        if (stack.isEmpty() || stack.getLast() == MARK) {
            throw corrupt("stack underflow");
        }
        return stack.removeLast();
    }

    private Object peek() throws ModelFileException {
        if (stack.isEmpty() || stack.getLast() == MARK) {
            throw corrupt("stack underflow");
        }
        return stack.getLast();
    }

    private List<Object> popMark() throws ModelFileException {
        if (marks.isEmpty()) {
            throw corrupt("no MARK to pop to");
        }
        int at = marks.removeLast();
        List<Object> items = new ArrayList<>(stack.subList(at + 1, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private Object get(long index) throws ModelFileException {
        Object o = memo.get(index);
        if (o == null) {
            throw corrupt("memo slot " + index + " is read before it is written");
        }
        return o;
    }

    private int u8() throws ModelFileException {
        need(1);
        return b[pos++] & 0xFF;
    }

    private int i32() throws ModelFileException {
        need(4);
        int v = (b[pos] & 0xFF) | (b[pos + 1] & 0xFF) << 8 | (b[pos + 2] & 0xFF) << 16 | (b[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long le64() throws ModelFileException {
        need(8);
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            v = v << 8 | (b[pos + i] & 0xFF);
        }
        pos += 8;
        return v;
    }

    private long be64() throws ModelFileException {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | (b[pos + i] & 0xFF);
        }
        pos += 8;
        return v;
    }

    private void skip(int n) throws ModelFileException {
        need(n);
        pos += n;
    }

    private int length(long n, String op) throws ModelFileException {
        if (n < 0 || n > b.length - pos) {
            throw corrupt(op + " length " + n + " runs past the end of the pickle (" + (b.length - pos) + " bytes left)");
        }
        return (int) n;
    }

    /** LONG1/LONG4: little-endian two's complement; tensor sizes fit in 63 bits. */
    private Long longN(int n) throws ModelFileException {
        need(n);
        if (n > 8) {
            throw corrupt("integer of " + n + " bytes is larger than any tensor size");
        }
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (b[pos + i] & 0xFF);
        }
        if (n > 0 && n < 8 && (b[pos + n - 1] & 0x80) != 0) {
            v -= 1L << (8 * n);
        }
        pos += n;
        return v;
    }

    private String utf8(int n) throws ModelFileException {
        need(n);
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b, pos, n)).toString();
            pos += n;
            return s;
        } catch (CharacterCodingException e) {
            throw corrupt("string is not valid UTF-8");
        }
    }

    private byte[] bytes(int n) throws ModelFileException {
        need(n);
        byte[] out = Arrays.copyOfRange(b, pos, pos + n);
        pos += n;
        return out;
    }

    /** A GLOBAL argument: ASCII up to a newline (pickletools: stringnl_noescape). */
    private String line() throws ModelFileException {
        int start = pos;
        while (pos < b.length && b[pos] != '\n') {
            if (b[pos] < 0x20 || b[pos] > 0x7e) {
                throw corrupt("GLOBAL name has a non-printable byte");
            }
            pos++;
            if (pos - start > 1000) {
                throw corrupt("GLOBAL name longer than 1000 bytes");
            }
        }
        if (pos >= b.length) {
            throw corrupt("GLOBAL name runs past the end of the pickle");
        }
        String s = new String(b, start, pos - start, StandardCharsets.US_ASCII);
        pos++;
        return s;
    }

    private void need(int n) throws ModelFileException {
        if (n > b.length - pos) {
            throw corrupt("pickle ends in the middle of an opcode (truncated)");
        }
    }

    private ModelFileException corrupt(String problem) {
        return new ModelFileException(file, record + " at byte " + opStart + ": " + problem
                + " (not a tensor state dict as torch.save writes it)", TorchZip.REDOWNLOAD);
    }

    private static String printable(int op) {
        return op >= 0x20 && op < 0x7f ? " ('" + (char) op + "')" : "";
    }

    static String describe(Object o) {
        return switch (o) {
            case null -> "nothing";
            case String s -> "'" + (s.length() > 60 ? s.substring(0, 60) + "…" : s) + "'";
            case Tuple t -> "a tuple of " + t.items().size();
            case Map<?, ?> m -> "a dict of " + m.size();
            case List<?> l -> "a list of " + l.size();
            case Global g -> g.qualified();
            case StorageRef s -> "a storage";
            case TensorRef t -> "a tensor";
            case None n -> "None";
            case Long l -> "the integer " + l;
            case Boolean bool -> bool ? "True" : "False";
            case Double d -> "the float " + d;
            case byte[] bytes -> bytes.length + " raw bytes";
            default -> o.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT) + " " + o;
        };
    }
}
