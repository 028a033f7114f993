package io.loadstone.ui.openai;

import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Renders a model's Jinja chat template (the {@code tokenizer.chat_template} of GGUF files and
 * Hugging Face tokenizers) for the subset chat templates actually use: text, {@code {{ }}},
 * {@code if/elif/else}, {@code for} with {@code loop}, {@code set} (also on a
 * {@code namespace()}), the usual operators, tests, filters and string methods, and
 * {@code raise_exception}. Whitespace follows Hugging Face's {@code apply_chat_template}
 * ({@code trim_blocks} and {@code lstrip_blocks} on, {@code -} modifiers honoured).
 * Anything outside the subset (macros, call blocks, unknown filters) is refused with
 * {@link Unsupported}, so the caller can fall back to a known format instead of sending a
 * half-rendered prompt.
 */
public final class ChatTemplate {

    /** The template uses something this renderer does not implement. */
    public static final class Unsupported extends Exception {
        private static final long serialVersionUID = 1L;

        Unsupported(String message) {
            super(message);
        }
    }

    /** The template itself refused the conversation ({@code raise_exception}). */
    public static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private final List<Node> nodes;

    private ChatTemplate(List<Node> nodes) {
        this.nodes = nodes;
    }

    public static ChatTemplate parse(String source) throws Unsupported {
        List<Seg> segs = lex(source);
        Parser p = new Parser(segs);
        List<Node> body = p.block(List.of());
        if (p.pos < segs.size()) {
            throw new Unsupported("unexpected {% " + segs.get(p.pos).text + " %}");
        }
        return new ChatTemplate(body);
    }

    /**
     * Renders the conversation. BOS is rendered as empty: the runtime's tokenizer adds it
     * (addBos), and a second one changes what the model sees.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) throws Unsupported, Refused {
        List<Object> msgs = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("role", m.role());
            x.put("content", m.content());
            msgs.add(x);
        }
        Scope s = new Scope(null);
        s.vars.put("messages", msgs);
        s.vars.put("add_generation_prompt", addGenerationPrompt);
        s.vars.put("bos_token", "");
        s.vars.put("eos_token", "");
        s.vars.put("tools", null);
        s.vars.put("date_string", LocalDate.now().format(DateTimeFormatter.ofPattern("d MMM yyyy", Locale.ROOT)));
        StringBuilder out = new StringBuilder();
        try {
            exec(nodes, s, out);
        } catch (Fail f) {
            if (f.refused) {
                throw new Refused(f.getMessage());
            }
            throw new Unsupported(f.getMessage());
        }
        return out.toString();
    }

    // ---- lexing ------------------------------------------------------------------------

    /** A piece of the template: text, an output {{ }} or a statement {% %}. */
    private record Seg(char kind, String text) {
    }

    private static List<Seg> lex(String src) throws Unsupported {
        List<Seg> out = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        int i = 0;
        boolean trimNextLeading = false;
        boolean blockEndedLast = false;
        while (i < src.length()) {
            int open = nextTag(src, i);
            String chunk = open < 0 ? src.substring(i) : src.substring(i, open);
            if (trimNextLeading) {
                chunk = stripLeading(chunk);
            } else if (blockEndedLast && chunk.startsWith("\n")) {
                chunk = chunk.substring(1); // trim_blocks
            }
            text.append(chunk);
            if (open < 0) {
                break;
            }
            char kind = src.charAt(open + 1);
            String close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int end = src.indexOf(close, open + 2);
            if (end < 0) {
                throw new Unsupported("unclosed tag at " + open);
            }
            String inner = src.substring(open + 2, end);
            boolean trimBefore = inner.startsWith("-");
            boolean keepBefore = inner.startsWith("+");
            boolean trimAfter = inner.endsWith("-");
            if (trimBefore || keepBefore) {
                inner = inner.substring(1);
            }
            if (trimAfter) {
                inner = inner.substring(0, inner.length() - 1);
            }
            if (trimBefore) {
                strip(text);
            } else if (kind != '{' && !keepBefore) {
                lstripBlock(text); // lstrip_blocks
            }
            if (!text.isEmpty()) {
                out.add(new Seg('t', text.toString()));
                text.setLength(0);
            }
            if (kind != '#') {
                out.add(new Seg(kind == '{' ? 'o' : 's', inner.strip()));
            }
            trimNextLeading = trimAfter;
            blockEndedLast = kind != '{';
            i = end + 2;
        }
        if (!text.isEmpty()) {
            out.add(new Seg('t', text.toString()));
        }
        return out;
    }

    private static int nextTag(String s, int from) {
        int best = -1;
        for (String t : new String[] {"{{", "{%", "{#"}) {
            int k = s.indexOf(t, from);
            if (k >= 0 && (best < 0 || k < best)) {
                best = k;
            }
        }
        return best;
    }

    private static String stripLeading(String s) {
        int k = 0;
        while (k < s.length() && Character.isWhitespace(s.charAt(k))) {
            k++;
        }
        return s.substring(k);
    }

    private static void strip(StringBuilder sb) {
        int k = sb.length();
        while (k > 0 && Character.isWhitespace(sb.charAt(k - 1))) {
            k--;
        }
        sb.setLength(k);
    }

    /** Spaces and tabs between the last newline and a block tag go. */
    private static void lstripBlock(StringBuilder sb) {
        int k = sb.length();
        while (k > 0 && (sb.charAt(k - 1) == ' ' || sb.charAt(k - 1) == '\t')) {
            k--;
        }
        if (k == 0 || sb.charAt(k - 1) == '\n') {
            sb.setLength(k);
        }
    }

    // ---- statements ----------------------------------------------------------------------

    private sealed interface Node permits Text, Out, If, For, SetVar {
    }

    private record Text(String text) implements Node {
    }

    private record Out(Expr e) implements Node {
    }

    private record If(List<Expr> conds, List<List<Node>> bodies, List<Node> otherwise) implements Node {
    }

    private record For(List<String> vars, Expr iter, Expr filter, List<Node> body, List<Node> otherwise)
            implements Node {
    }

    private record SetVar(String name, String attr, Expr value) implements Node {
    }

    private static final class Parser {
        final List<Seg> segs;
        int pos;

        Parser(List<Seg> segs) {
            this.segs = segs;
        }

        /** Parses nodes until a statement whose first word is in {@code stops} (left unconsumed). */
        List<Node> block(List<String> stops) throws Unsupported {
            List<Node> out = new ArrayList<>();
            while (pos < segs.size()) {
                Seg s = segs.get(pos);
                if (s.kind == 't') {
                    out.add(new Text(s.text));
                    pos++;
                } else if (s.kind == 'o') {
                    out.add(new Out(new ExprParser(s.text).whole()));
                    pos++;
                } else {
                    String word = s.text.split("\\s+", 2)[0];
                    if (stops.contains(word)) {
                        return out;
                    }
                    pos++;
                    out.add(statement(word, s.text.substring(word.length()).strip()));
                }
            }
            if (!stops.isEmpty()) {
                throw new Unsupported("missing {% " + stops.get(stops.size() - 1) + " %}");
            }
            return out;
        }

        private String word() {
            return segs.get(pos).text.split("\\s+", 2)[0];
        }

        private Node statement(String word, String rest) throws Unsupported {
            switch (word) {
                case "if" -> {
                    List<Expr> conds = new ArrayList<>();
                    List<List<Node>> bodies = new ArrayList<>();
                    conds.add(new ExprParser(rest).whole());
                    bodies.add(block(List.of("elif", "else", "endif")));
                    List<Node> otherwise = List.of();
                    while (true) {
                        String w = word();
                        String r = segs.get(pos).text.substring(w.length()).strip();
                        pos++;
                        if (w.equals("elif")) {
                            conds.add(new ExprParser(r).whole());
                            bodies.add(block(List.of("elif", "else", "endif")));
                        } else if (w.equals("else")) {
                            otherwise = block(List.of("endif"));
                        } else {
                            return new If(conds, bodies, otherwise);
                        }
                    }
                }
                case "for" -> {
                    int in = rest.indexOf(" in ");
                    if (in < 0) {
                        throw new Unsupported("for without in");
                    }
                    List<String> vars = new ArrayList<>();
                    for (String v : rest.substring(0, in).split(",")) {
                        vars.add(v.strip());
                    }
                    ExprParser ep = new ExprParser(rest.substring(in + 4));
                    Expr iter = ep.ternary(false);
                    Expr filter = null;
                    if (ep.peekWord("if")) {
                        ep.next();
                        filter = ep.ternary(true);
                    }
                    ep.end();
                    List<Node> body = block(List.of("else", "endfor"));
                    List<Node> otherwise = List.of();
                    if (word().equals("else")) {
                        pos++;
                        otherwise = block(List.of("endfor"));
                    }
                    pos++;
                    return new For(vars, iter, filter, body, otherwise);
                }
                case "set" -> {
                    int eq = rest.indexOf('=');
                    if (eq < 0) {
                        throw new Unsupported("block set");
                    }
                    String target = rest.substring(0, eq).strip();
                    Expr value = new ExprParser(rest.substring(eq + 1)).whole();
                    int dot = target.indexOf('.');
                    return dot < 0 ? new SetVar(target, null, value) : new SetVar(target.substring(0, dot),
                            target.substring(dot + 1), value);
                }
                default -> throw new Unsupported("{% " + word + " %} is not supported");
            }
        }
    }

    // ---- expressions ---------------------------------------------------------------------

    private interface Expr {
        Object eval(Scope s) throws Fail;
    }

    /** Evaluation failure: unsupported construct, or the template's own raise_exception. */
    private static final class Fail extends Exception {
        private static final long serialVersionUID = 1L;
        final boolean refused;

        Fail(String message, boolean refused) {
            super(message, null, false, false);
            this.refused = refused;
        }
    }

    /** Jinja's undefined: prints nothing, is false, and is not an error until used as a value. */
    private static final Object UNDEFINED = new Object() {
        @Override
        public String toString() {
            return "";
        }
    };

    private static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new LinkedHashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object get(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) {
                    return s.vars.get(name);
                }
            }
            return UNDEFINED;
        }
    }

    /** {@code namespace()}: the one mutable object templates use to carry values out of loops. */
    private static final class Namespace extends LinkedHashMap<String, Object> {
        private static final long serialVersionUID = 1L;
    }

    private static final class ExprParser {
        private final List<String> toks = new ArrayList<>();
        private int p;

        ExprParser(String src) throws Unsupported {
            int i = 0;
            while (i < src.length()) {
                char c = src.charAt(i);
                if (Character.isWhitespace(c)) {
                    i++;
                } else if (c == '\'' || c == '"') {
                    StringBuilder sb = new StringBuilder("\"");
                    int j = i + 1;
                    while (j < src.length() && src.charAt(j) != c) {
                        char d = src.charAt(j);
                        if (d == '\\' && j + 1 < src.length()) {
                            char e = src.charAt(++j);
                            sb.append(switch (e) {
                                case 'n' -> '\n';
                                case 't' -> '\t';
                                case 'r' -> '\r';
                                default -> e;
                            });
                        } else {
                            sb.append(d);
                        }
                        j++;
                    }
                    if (j >= src.length()) {
                        throw new Unsupported("unterminated string");
                    }
                    toks.add(sb.toString());
                    i = j + 1;
                } else if (Character.isDigit(c)) {
                    int j = i;
                    while (j < src.length() && (Character.isDigit(src.charAt(j)) || src.charAt(j) == '.')) {
                        j++;
                    }
                    toks.add("#" + src.substring(i, j));
                    i = j;
                } else if (Character.isLetter(c) || c == '_') {
                    int j = i;
                    while (j < src.length() && (Character.isLetterOrDigit(src.charAt(j)) || src.charAt(j) == '_')) {
                        j++;
                    }
                    toks.add(src.substring(i, j));
                    i = j;
                } else {
                    String two = i + 1 < src.length() ? src.substring(i, i + 2) : "";
                    if (List.of("==", "!=", "<=", ">=", "//", "**").contains(two)) {
                        toks.add(two);
                        i += 2;
                    } else if ("+-*/%~|.,:()[]{}<>=".indexOf(c) >= 0) {
                        toks.add(String.valueOf(c));
                        i++;
                    } else {
                        throw new Unsupported("unexpected character '" + c + "'");
                    }
                }
            }
        }

        String peek() {
            return p < toks.size() ? toks.get(p) : "";
        }

        boolean peekWord(String w) {
            return peek().equals(w);
        }

        String next() {
            return toks.get(p++);
        }

        void expect(String t) throws Unsupported {
            if (!peek().equals(t)) {
                throw new Unsupported("expected '" + t + "' but found '" + peek() + "'");
            }
            p++;
        }

        void end() throws Unsupported {
            if (p != toks.size()) {
                throw new Unsupported("unexpected '" + peek() + "'");
            }
        }

        Expr whole() throws Unsupported {
            Expr e = ternary(true);
            end();
            return e;
        }

        Expr ternary(boolean allowIf) throws Unsupported {
            Expr a = or();
            if (allowIf && peekWord("if")) {
                next();
                Expr cond = or();
                Expr b = null;
                if (peekWord("else")) {
                    next();
                    b = ternary(true);
                }
                Expr otherwise = b;
                return s -> truthy(cond.eval(s)) ? a.eval(s) : otherwise == null ? UNDEFINED : otherwise.eval(s);
            }
            return a;
        }

        Expr or() throws Unsupported {
            Expr a = and();
            while (peekWord("or")) {
                next();
                Expr l = a;
                Expr r = and();
                a = s -> {
                    Object v = l.eval(s);
                    return truthy(v) ? v : r.eval(s);
                };
            }
            return a;
        }

        Expr and() throws Unsupported {
            Expr a = not();
            while (peekWord("and")) {
                next();
                Expr l = a;
                Expr r = not();
                a = s -> {
                    Object v = l.eval(s);
                    return !truthy(v) ? v : r.eval(s);
                };
            }
            return a;
        }

        Expr not() throws Unsupported {
            if (peekWord("not")) {
                next();
                Expr e = not();
                return s -> !truthy(e.eval(s));
            }
            return compare();
        }

        Expr compare() throws Unsupported {
            Expr a = concat();
            while (true) {
                String op = peek();
                if (List.of("==", "!=", "<", ">", "<=", ">=").contains(op)) {
                    next();
                    Expr l = a;
                    Expr r = concat();
                    a = s -> cmp(op, l.eval(s), r.eval(s));
                } else if (op.equals("in") || op.equals("not") && p + 1 < toks.size() && toks.get(p + 1).equals(
                        "in")) {
                    boolean negate = op.equals("not");
                    p += negate ? 2 : 1;
                    Expr l = a;
                    Expr r = concat();
                    a = s -> contains(r.eval(s), l.eval(s)) != negate;
                } else if (op.equals("is")) {
                    next();
                    boolean negate = false;
                    if (peekWord("not")) {
                        next();
                        negate = true;
                    }
                    String test = next();
                    List<Expr> args = new ArrayList<>();
                    if (peekWord("(")) {
                        args = args();
                    } else if (!peek().isEmpty() && !List.of("and", "or", "else", "if", ")", "]", ",", "}")
                            .contains(peek())) {
                        args.add(concat());
                    }
                    Expr l = a;
                    boolean neg = negate;
                    List<Expr> targs = args;
                    a = s -> test(test, l.eval(s), evalAll(targs, s)) != neg;
                } else {
                    return a;
                }
            }
        }

        Expr concat() throws Unsupported {
            Expr a = additive();
            while (peekWord("~")) {
                next();
                Expr l = a;
                Expr r = additive();
                a = s -> str(l.eval(s)) + str(r.eval(s));
            }
            return a;
        }

        Expr additive() throws Unsupported {
            Expr a = mult();
            while (peekWord("+") || peekWord("-")) {
                String op = next();
                Expr l = a;
                Expr r = mult();
                a = s -> arith(op, l.eval(s), r.eval(s));
            }
            return a;
        }

        Expr mult() throws Unsupported {
            Expr a = unary();
            while (List.of("*", "/", "//", "%").contains(peek())) {
                String op = next();
                Expr l = a;
                Expr r = unary();
                a = s -> arith(op, l.eval(s), r.eval(s));
            }
            return a;
        }

        Expr unary() throws Unsupported {
            if (peekWord("-")) {
                next();
                Expr e = unary();
                return s -> arith("-", 0L, e.eval(s));
            }
            return filtered();
        }

        Expr filtered() throws Unsupported {
            Expr a = postfix();
            while (peekWord("|")) {
                next();
                String name = next();
                List<Expr> args = peekWord("(") ? args() : List.of();
                Expr l = a;
                a = s -> filter(name, l.eval(s), evalAll(args, s));
            }
            return a;
        }

        Expr postfix() throws Unsupported {
            Expr a = primary();
            while (true) {
                if (peekWord(".")) {
                    next();
                    String name = next();
                    Expr l = a;
                    if (peekWord("(")) {
                        List<Expr> args = args();
                        a = s -> method(l.eval(s), name, evalAll(args, s));
                    } else {
                        a = s -> attr(l.eval(s), name);
                    }
                } else if (peekWord("[")) {
                    next();
                    Expr from = peekWord(":") ? null : ternary(true);
                    Expr l = a;
                    if (peekWord(":")) {
                        next();
                        Expr to = peekWord("]") ? null : ternary(true);
                        expect("]");
                        a = s -> slice(l.eval(s), from == null ? null : from.eval(s), to == null ? null : to.eval(s));
                    } else {
                        expect("]");
                        a = s -> item(l.eval(s), from.eval(s));
                    }
                } else if (peekWord("(")) {
                    throw new Unsupported("calling an expression");
                } else {
                    return a;
                }
            }
        }

        private List<Expr> args() throws Unsupported {
            expect("(");
            List<Expr> out = new ArrayList<>();
            while (!peekWord(")")) {
                if (p + 1 < toks.size() && toks.get(p + 1).equals("=") && Character.isLetter(peek().charAt(0))) {
                    String key = next();
                    next();
                    Expr v = ternary(true);
                    out.add(new Kw(key, v));
                } else {
                    out.add(ternary(true));
                }
                if (peekWord(",")) {
                    next();
                }
            }
            expect(")");
            return out;
        }

        Expr primary() throws Unsupported {
            String t = next();
            if (t.startsWith("\"")) {
                String v = t.substring(1);
                return s -> v;
            }
            if (t.startsWith("#")) {
                String n = t.substring(1);
                Object v = n.contains(".") ? (Object) Double.parseDouble(n) : (Object) Long.parseLong(n);
                return s -> v;
            }
            switch (t) {
                case "(" -> {
                    Expr e = ternary(true);
                    expect(")");
                    return e;
                }
                case "[" -> {
                    List<Expr> items = new ArrayList<>();
                    while (!peekWord("]")) {
                        items.add(ternary(true));
                        if (peekWord(",")) {
                            next();
                        }
                    }
                    next();
                    return s -> new ArrayList<>(evalAll(items, s));
                }
                case "{" -> {
                    List<Expr[]> kv = new ArrayList<>();
                    while (!peekWord("}")) {
                        Expr k = ternary(true);
                        expect(":");
                        kv.add(new Expr[] {k, ternary(true)});
                        if (peekWord(",")) {
                            next();
                        }
                    }
                    next();
                    return s -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        for (Expr[] e : kv) {
                            m.put(str(e[0].eval(s)), e[1].eval(s));
                        }
                        return m;
                    };
                }
                case "true", "True" -> {
                    return s -> true;
                }
                case "false", "False" -> {
                    return s -> false;
                }
                case "none", "None" -> {
                    return s -> null;
                }
                default -> {
                    if (!Character.isLetter(t.charAt(0)) && t.charAt(0) != '_') {
                        throw new Unsupported("unexpected '" + t + "'");
                    }
                    if (peekWord("(")) {
                        List<Expr> args = args();
                        return s -> call(t, evalAll(args, s));
                    }
                    return s -> s.get(t);
                }
            }
        }
    }

    /** A keyword argument, {@code name=value}. */
    private record Kw(String key, Expr value) implements Expr {
        @Override
        public Object eval(Scope s) throws Fail {
            return new KwValue(key, value.eval(s));
        }
    }

    private record KwValue(String key, Object value) {
    }

    private static List<Object> evalAll(List<Expr> es, Scope s) throws Fail {
        List<Object> out = new ArrayList<>(es.size());
        for (Expr e : es) {
            out.add(e.eval(s));
        }
        return out;
    }

    // ---- execution -----------------------------------------------------------------------

    private static void exec(List<Node> nodes, Scope s, StringBuilder out) throws Fail {
        for (Node n : nodes) {
            switch (n) {
                case Text t -> out.append(t.text());
                case Out o -> out.append(str(o.e().eval(s)));
                case If f -> {
                    boolean done = false;
                    for (int i = 0; i < f.conds().size() && !done; i++) {
                        if (truthy(f.conds().get(i).eval(s))) {
                            exec(f.bodies().get(i), s, out);
                            done = true;
                        }
                    }
                    if (!done) {
                        exec(f.otherwise(), s, out);
                    }
                }
                case For f -> loop(f, s, out);
                case SetVar v -> {
                    Object value = v.value().eval(s);
                    if (v.attr() == null) {
                        s.vars.put(v.name(), value);
                    } else if (s.get(v.name()) instanceof Namespace ns) {
                        ns.put(v.attr(), value);
                    } else {
                        throw new Fail("set " + v.name() + "." + v.attr() + " needs a namespace()", false);
                    }
                }
            }
        }
    }

    private static void loop(For f, Scope s, StringBuilder out) throws Fail {
        Object it = f.iter().eval(s);
        List<Object> items = new ArrayList<>();
        if (it instanceof Map<?, ?> m) {
            items.addAll(m.keySet());
        } else if (it instanceof Collection<?> c) {
            items.addAll(c);
        } else if (it instanceof String str) {
            for (char ch : str.toCharArray()) {
                items.add(String.valueOf(ch));
            }
        } else if (it != null && it != UNDEFINED) {
            throw new Fail("cannot loop over " + it, false);
        }
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object x : items) {
                Scope fs = new Scope(s);
                bind(f.vars(), x, fs);
                if (truthy(f.filter().eval(fs))) {
                    kept.add(x);
                }
            }
            items = kept;
        }
        if (items.isEmpty()) {
            exec(f.otherwise(), s, out);
            return;
        }
        for (int i = 0; i < items.size(); i++) {
            Scope inner = new Scope(s);
            bind(f.vars(), items.get(i), inner);
            Map<String, Object> loop = new LinkedHashMap<>();
            loop.put("index", (long) i + 1);
            loop.put("index0", (long) i);
            loop.put("first", i == 0);
            loop.put("last", i == items.size() - 1);
            loop.put("length", (long) items.size());
            loop.put("revindex", (long) (items.size() - i));
            loop.put("revindex0", (long) (items.size() - i - 1));
            loop.put("previtem", i > 0 ? items.get(i - 1) : UNDEFINED);
            loop.put("nextitem", i + 1 < items.size() ? items.get(i + 1) : UNDEFINED);
            inner.vars.put("loop", loop);
            exec(f.body(), inner, out);
        }
    }

    private static void bind(List<String> vars, Object item, Scope s) throws Fail {
        if (vars.size() == 1) {
            s.vars.put(vars.get(0), item);
            return;
        }
        if (!(item instanceof List<?> l) || l.size() != vars.size()) {
            throw new Fail("cannot unpack " + item, false);
        }
        for (int i = 0; i < vars.size(); i++) {
            s.vars.put(vars.get(i), l.get(i));
        }
    }

    // ---- values ------------------------------------------------------------------------------

    static boolean truthy(Object v) {
        if (v == null || v == UNDEFINED) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof String s) {
            return !s.isEmpty();
        }
        if (v instanceof Number n) {
            return n.doubleValue() != 0;
        }
        if (v instanceof Collection<?> c) {
            return !c.isEmpty();
        }
        if (v instanceof Map<?, ?> m) {
            return !m.isEmpty() || v instanceof Namespace;
        }
        return true;
    }

    static String str(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? (long) (double) d + ".0" : d.toString();
        }
        return v.toString();
    }

    private static Object cmp(String op, Object a, Object b) {
        if (op.equals("==") || op.equals("!=")) {
            boolean eq = a instanceof Number x && b instanceof Number y ? x.doubleValue() == y.doubleValue()
                    : a == UNDEFINED || b == UNDEFINED ? a == b : Objects.equals(a, b);
            return eq == op.equals("==");
        }
        int c;
        if (a instanceof Number x && b instanceof Number y) {
            c = Double.compare(x.doubleValue(), y.doubleValue());
        } else {
            c = str(a).compareTo(str(b));
        }
        return switch (op) {
            case "<" -> c < 0;
            case ">" -> c > 0;
            case "<=" -> c <= 0;
            default -> c >= 0;
        };
    }

    private static boolean contains(Object container, Object x) {
        if (container instanceof String s) {
            return s.contains(str(x));
        }
        if (container instanceof Map<?, ?> m) {
            return m.containsKey(str(x));
        }
        if (container instanceof Collection<?> c) {
            return c.contains(x);
        }
        return false;
    }

    private static Object arith(String op, Object a, Object b) throws Fail {
        if (op.equals("+") && (a instanceof String || b instanceof String)) {
            if (!(a instanceof String) || !(b instanceof String)) {
                throw new Fail("cannot add " + str(a) + " and " + str(b), false);
            }
            return (String) a + b;
        }
        if (op.equals("+") && a instanceof List<?> x && b instanceof List<?> y) {
            List<Object> l = new ArrayList<>(x);
            l.addAll(y);
            return l;
        }
        if (!(a instanceof Number x) || !(b instanceof Number y)) {
            throw new Fail("arithmetic on " + str(a) + " and " + str(b), false);
        }
        boolean ints = x instanceof Long && y instanceof Long;
        return switch (op) {
            case "+" -> ints ? (Object) (x.longValue() + y.longValue()) : (Object) (x.doubleValue() + y.doubleValue());
            case "-" -> ints ? (Object) (x.longValue() - y.longValue()) : (Object) (x.doubleValue() - y.doubleValue());
            case "*" -> ints ? (Object) (x.longValue() * y.longValue()) : (Object) (x.doubleValue() * y.doubleValue());
            case "/" -> x.doubleValue() / y.doubleValue();
            case "//" -> ints ? (Object) Math.floorDiv(x.longValue(), y.longValue())
                    : (Object) Math.floor(x.doubleValue() / y.doubleValue());
            default -> ints ? (Object) Math.floorMod(x.longValue(), y.longValue())
                    : (Object) (x.doubleValue() % y.doubleValue());
        };
    }

    private static Object attr(Object v, String name) {
        if (v instanceof Map<?, ?> m) {
            return m.containsKey(name) ? m.get(name) : UNDEFINED;
        }
        return UNDEFINED;
    }

    private static Object item(Object v, Object key) throws Fail {
        if (v instanceof Map<?, ?> m) {
            String k = str(key);
            return m.containsKey(k) ? m.get(k) : UNDEFINED;
        }
        if (v instanceof List<?> l && key instanceof Number n) {
            int i = n.intValue() < 0 ? l.size() + n.intValue() : n.intValue();
            return i >= 0 && i < l.size() ? l.get(i) : UNDEFINED;
        }
        if (v instanceof String s && key instanceof Number n) {
            int i = n.intValue() < 0 ? s.length() + n.intValue() : n.intValue();
            return i >= 0 && i < s.length() ? String.valueOf(s.charAt(i)) : UNDEFINED;
        }
        if (v == UNDEFINED || v == null) {
            return UNDEFINED;
        }
        throw new Fail("cannot index " + str(v), false);
    }

    private static Object slice(Object v, Object from, Object to) throws Fail {
        int size = v instanceof List<?> l ? l.size() : v instanceof String s ? s.length() : -1;
        if (size < 0) {
            throw new Fail("cannot slice " + str(v), false);
        }
        int a = from == null ? 0 : ((Number) from).intValue();
        int b = to == null ? size : ((Number) to).intValue();
        a = Math.max(0, Math.min(size, a < 0 ? size + a : a));
        b = Math.max(0, Math.min(size, b < 0 ? size + b : b));
        if (b < a) {
            b = a;
        }
        return v instanceof List<?> l ? new ArrayList<>(l.subList(a, b)) : ((String) v).substring(a, b);
    }

    private static boolean test(String name, Object v, List<Object> args) throws Fail {
        return switch (name) {
            case "defined" -> v != UNDEFINED;
            case "undefined" -> v == UNDEFINED;
            case "none" -> v == null;
            case "string" -> v instanceof String;
            case "number", "integer", "float" -> v instanceof Number;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "mapping" -> v instanceof Map;
            case "sequence", "iterable" -> v instanceof Collection || v instanceof String || v instanceof Map;
            case "equalto", "eq", "sameas" -> (Boolean) cmp("==", v, args.isEmpty() ? null : args.get(0));
            case "odd" -> v instanceof Number n && n.longValue() % 2 != 0;
            case "even" -> v instanceof Number n && n.longValue() % 2 == 0;
            default -> throw new Fail("test '" + name + "' is not supported", false);
        };
    }

    private static Object call(String name, List<Object> args) throws Fail {
        switch (name) {
            case "raise_exception" -> throw new Fail(args.isEmpty() ? "The chat template refused the conversation."
                    : str(args.get(0)), true);
            case "namespace" -> {
                Namespace ns = new Namespace();
                for (Object a : args) {
                    if (a instanceof KwValue kv) {
                        ns.put(kv.key(), kv.value());
                    }
                }
                return ns;
            }
            case "range" -> {
                long from = args.size() > 1 ? ((Number) args.get(0)).longValue() : 0;
                long to = ((Number) args.get(args.size() > 1 ? 1 : 0)).longValue();
                List<Object> out = new ArrayList<>();
                for (long i = from; i < to; i++) {
                    out.add(i);
                }
                return out;
            }
            case "strftime_now" -> {
                String fmt = args.isEmpty() ? "%d %b %Y" : str(args.get(0));
                LocalDate d = LocalDate.now();
                return fmt.replace("%d", String.format(Locale.ROOT, "%02d", d.getDayOfMonth()))
                        .replace("%b", d.format(DateTimeFormatter.ofPattern("MMM", Locale.ROOT)))
                        .replace("%B", d.format(DateTimeFormatter.ofPattern("MMMM", Locale.ROOT)))
                        .replace("%Y", Integer.toString(d.getYear()))
                        .replace("%m", String.format(Locale.ROOT, "%02d", d.getMonthValue()));
            }
            default -> throw new Fail("function '" + name + "' is not supported", false);
        }
    }

    private static Object method(Object v, String name, List<Object> args) throws Fail {
        if (v instanceof String s) {
            return switch (name) {
                case "strip" -> args.isEmpty() ? s.strip() : stripChars(s, str(args.get(0)), true, true);
                case "lstrip" -> args.isEmpty() ? s.stripLeading() : stripChars(s, str(args.get(0)), true, false);
                case "rstrip" -> args.isEmpty() ? s.stripTrailing() : stripChars(s, str(args.get(0)), false, true);
                case "startswith" -> s.startsWith(str(args.get(0)));
                case "endswith" -> s.endsWith(str(args.get(0)));
                case "upper" -> s.toUpperCase(Locale.ROOT);
                case "lower" -> s.toLowerCase(Locale.ROOT);
                case "title" -> title(s);
                case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT)
                        + s.substring(1).toLowerCase(Locale.ROOT);
                case "replace" -> s.replace(str(args.get(0)), str(args.get(1)));
                case "split" -> {
                    List<Object> out = new ArrayList<>();
                    if (args.isEmpty()) {
                        for (String part : s.strip().split("\\s+")) {
                            if (!part.isEmpty()) {
                                out.add(part);
                            }
                        }
                    } else {
                        String sep = str(args.get(0));
                        int from = 0;
                        for (int k; (k = s.indexOf(sep, from)) >= 0; from = k + sep.length()) {
                            out.add(s.substring(from, k));
                        }
                        out.add(s.substring(from));
                    }
                    yield out;
                }
                default -> throw new Fail("string method '" + name + "' is not supported", false);
            };
        }
        if (v instanceof Map<?, ?> m) {
            return switch (name) {
                case "get" -> m.containsKey(str(args.get(0))) ? m.get(str(args.get(0))) : args.size() > 1 ? args.get(1)
                        : null;
                case "items" -> {
                    List<Object> out = new ArrayList<>();
                    m.forEach((k, x) -> out.add(new ArrayList<>(java.util.Arrays.asList(k, x))));
                    yield out;
                }
                case "keys" -> new ArrayList<Object>(m.keySet());
                case "values" -> new ArrayList<Object>(m.values());
                default -> throw new Fail("mapping method '" + name + "' is not supported", false);
            };
        }
        throw new Fail("method '" + name + "' on " + str(v) + " is not supported", false);
    }

    private static String stripChars(String s, String chars, boolean left, boolean right) {
        int a = 0;
        int b = s.length();
        while (left && a < b && chars.indexOf(s.charAt(a)) >= 0) {
            a++;
        }
        while (right && b > a && chars.indexOf(s.charAt(b - 1)) >= 0) {
            b--;
        }
        return s.substring(a, b);
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean start = true;
        for (char c : s.toCharArray()) {
            sb.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
            start = !Character.isLetterOrDigit(c);
        }
        return sb.toString();
    }

    private static Object filter(String name, Object v, List<Object> args) throws Fail {
        return switch (name) {
            case "trim" -> str(v == UNDEFINED ? "" : v).strip();
            case "length", "count" -> v instanceof Collection<?> c ? (long) c.size() : v instanceof Map<?, ?> m
                    ? (long) m.size() : (long) str(v).length();
            case "upper", "lower", "title", "capitalize" -> method(str(v), name, List.of());
            case "string" -> str(v);
            case "safe", "e", "escape" -> v;
            case "int" -> v instanceof Number n ? n.longValue() : parseLong(str(v));
            case "float" -> v instanceof Number n ? n.doubleValue() : Double.parseDouble(str(v));
            case "first" -> v instanceof List<?> l ? (l.isEmpty() ? UNDEFINED : l.get(0)) : item(v, 0L);
            case "last" -> v instanceof List<?> l ? (l.isEmpty() ? UNDEFINED : l.get(l.size() - 1)) : item(v, -1L);
            case "list" -> v instanceof Collection<?> c ? new ArrayList<Object>(c) : List.of(v);
            case "reverse" -> {
                List<Object> l = v instanceof Collection<?> c ? new ArrayList<>(c) : new ArrayList<>();
                java.util.Collections.reverse(l);
                yield v instanceof String s ? new StringBuilder(s).reverse().toString() : l;
            }
            case "default", "d" -> v == UNDEFINED || (args.size() > 1 && truthy(args.get(1)) && !truthy(v))
                    ? (args.isEmpty() ? "" : args.get(0)) : v;
            case "join" -> {
                StringBuilder sb = new StringBuilder();
                String sep = args.isEmpty() ? "" : str(args.get(0));
                if (v instanceof Collection<?> c) {
                    for (Object x : c) {
                        if (!sb.isEmpty()) {
                            sb.append(sep);
                        }
                        sb.append(str(x));
                    }
                }
                yield sb.toString();
            }
            case "replace" -> str(v).replace(str(args.get(0)), str(args.get(1)));
            case "tojson" -> io.loadstone.ui.http.HttpIo.GSON.toJson(v == UNDEFINED ? null : v);
            case "selectattr", "rejectattr" -> {
                boolean keep = name.equals("selectattr");
                List<Object> out = new ArrayList<>();
                if (v instanceof Collection<?> c) {
                    for (Object x : c) {
                        Object a = attr(x, str(args.get(0)));
                        boolean hit = args.size() > 1 ? test(str(args.get(1)), a, args.subList(2, args.size()))
                                : truthy(a);
                        if (hit == keep) {
                            out.add(x);
                        }
                    }
                }
                yield out;
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                String attribute = args.stream().filter(a -> a instanceof KwValue kv && kv.key().equals("attribute"))
                        .map(a -> str(((KwValue) a).value())).findFirst().orElse(null);
                if (attribute == null || !(v instanceof Collection<?> c)) {
                    throw new Fail("map() supports only attribute=", false);
                }
                for (Object x : c) {
                    out.add(attr(x, attribute));
                }
                yield out;
            }
            default -> throw new Fail("filter '" + name + "' is not supported", false);
        };
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
