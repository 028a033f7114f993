package io.loadstone.api.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The sizes people read in the shell, the web UI and the download tool: the Hub's powers of 1000. */
class ByteSizeTest {

    @Test
    void bytesBelowAThousandStayBytes() {
        assertEquals("0 B", ByteSize.format(0));
        assertEquals("999 B", ByteSize.format(999));
    }

    @Test
    void threeSignificantDigitsInPowersOfAThousand() {
        assertEquals("1.00 kB", ByteSize.format(1000));
        assertEquals("1.02 kB", ByteSize.format(1024));
        // stories260K.gguf (shared/models), 1,185,376 bytes
        assertEquals("1.19 MB", ByteSize.format(1_185_376));
        assertEquals("12.3 MB", ByteSize.format(12_345_678));
        assertEquals("123 GB", ByteSize.format(123_456_789_012L));
        assertEquals("9.22 EB", ByteSize.format(Long.MAX_VALUE));
    }
}
