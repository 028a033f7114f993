package io.loadstone.ui.server;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Which names a request may carry in its {@code Host} header. A web page on any domain can
 * make its name resolve to 127.0.0.1 (DNS rebinding) and then talk to this server as its
 * "own" origin, so the Origin check alone protects nothing: the server must also refuse names
 * that are not its own. Loopback names always pass; with {@code --listen}, the names in
 * {@code allowed.hosts}, or when there are none the machine's own host names; an IP literal
 * passes when it is the address the request arrived on (a rebinding page always uses a name).
 *
 * @param names lower-case host names (without port) accepted besides the loopback ones
 */
public record HostCheck(Set<String> names) {

    /** Names every installation answers to. */
    static final Set<String> LOOPBACK = Set.of("localhost", "127.0.0.1", "[::1]", "::1");

    public HostCheck {
        names = Set.copyOf(names);
    }

    public static HostCheck of(ServerConfig c) {
        Set<String> names = new LinkedHashSet<>();
        for (String n : c.allowed_hosts() == null ? new String[0] : c.allowed_hosts()) {
            for (String part : n.split(",")) {
                String h = part.trim().toLowerCase(Locale.ROOT);
                if (!h.isEmpty()) {
                    names.add(h.startsWith("[") || h.indexOf(':') != h.lastIndexOf(':') ? literal(h) : h);
                }
            }
        }
        if (c.listen() && names.isEmpty()) {
            names.addAll(ownNames());
        }
        return new HostCheck(names);
    }

    /** This machine's host names and addresses, for --listen without allowed.hosts. */
    static Set<String> ownNames() {
        Set<String> out = new LinkedHashSet<>();
        try {
            InetAddress local = InetAddress.getLocalHost();
            out.add(local.getHostName().toLowerCase(Locale.ROOT));
            out.add(local.getCanonicalHostName().toLowerCase(Locale.ROOT));
        } catch (UnknownHostException e) {
            // No resolvable host name: the addresses below still work.
        }
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : Collections.list(ni.getInetAddresses())) {
                    out.add(literal(a.getHostAddress()));
                }
            }
        } catch (SocketException | NullPointerException e) {
            // No interface list on this platform: the host names above still work.
        }
        return out;
    }

    /**
     * True when {@code hostHeader} names this server. {@code localAddr} and {@code localPort}
     * are where the request arrived; a port in the header must be that port.
     */
    public boolean allows(String hostHeader, String localAddr, int localPort) {
        if (hostHeader == null || hostHeader.isBlank()) {
            return false;
        }
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        String name;
        String port;
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            if (end < 0) {
                return false;
            }
            name = h.substring(0, end + 1);
            port = h.length() > end + 1 ? h.substring(end + 1) : "";
            if (!port.isEmpty() && !port.startsWith(":")) {
                return false;
            }
            port = port.isEmpty() ? "" : port.substring(1);
        } else {
            int colon = h.indexOf(':');
            name = colon < 0 ? h : h.substring(0, colon);
            port = colon < 0 ? "" : h.substring(colon + 1);
        }
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1); // "localhost." is the same name
        }
        if (!portMatches(port, localPort)) {
            return false;
        }
        String lit = name.startsWith("[") ? literal(name) : name;
        return LOOPBACK.contains(lit) || names.contains(name) || names.contains(lit)
                || localAddr != null && literal(localAddr).equals(lit);
    }

    /** No port (hand-written clients send none; the name check is what stops rebinding) or the server's own. */
    private static boolean portMatches(String port, int localPort) {
        if (port.isEmpty()) {
            return true;
        }
        if (port.length() > 5 || !port.chars().allMatch(Character::isDigit)) {
            return false;
        }
        return localPort <= 0 || Integer.parseInt(port) == localPort;
    }

    /** An address as it appears in a Host header: IPv6 in brackets, in its short form, without a zone id. */
    static String literal(String address) {
        String a = address.toLowerCase(Locale.ROOT);
        if (a.startsWith("[") && a.endsWith("]")) {
            a = a.substring(1, a.length() - 1);
        }
        int zone = a.indexOf('%');
        if (zone >= 0) {
            a = a.substring(0, zone);
        }
        if (!a.contains(":")) {
            return a;
        }
        try {
            // A literal never goes to DNS; Java spells IPv6 in full ("0:0:0:0:0:0:0:1"), Host headers short ("::1").
            byte[] b = InetAddress.getByName(a).getAddress();
            return "[" + (b.length == 16 ? shortForm(b) : a) + "]";
        } catch (UnknownHostException e) {
            return "[" + a + "]";
        }
    }

    private static String shortForm(byte[] b) {
        int[] w = new int[8];
        for (int i = 0; i < 8; i++) {
            w[i] = (b[2 * i] & 0xff) << 8 | b[2 * i + 1] & 0xff;
        }
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8;) {
            if (w[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && w[j] == 0) {
                j++;
            }
            if (j - i > bestLen && j - i > 1) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(w[i]));
        }
        return sb.toString();
    }
}
