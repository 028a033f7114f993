package io.loadstone.evaluation.perplexity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class CsvTest {

    @Test
    void roundTripOfNastyFields() {
        List<String> row = List.of("plain", "a,b", "say \"hi\"", "two\nlines", "crlf\r\nend", "", " padded ", "\"",
                ",", "ünïcode");
        String text = Csv.row(List.of("h1", "h2")) + Csv.row(row) + Csv.row(List.of("last", ""));
        List<List<String>> back = Csv.parse(text);
        assertEquals(3, back.size());
        assertEquals(row, back.get(1));
        assertEquals(List.of("last", ""), back.get(2));
    }

    @Test
    void readsLfFilesWithoutFinalNewlineAndBom() {
        assertEquals(List.of(List.of("a", "b"), List.of("1", "2")), Csv.parse("\uFEFFa,b\n\n1,2"));
    }

    @Test
    void formulasAreWrittenAsTextAndReadBackUnchanged() {
        List<String> row = List.of("=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-cmd", "@SUM(A1)", "\tx", "-1.5", "+2e-3",
                "'=already", "plain");
        String line = Csv.row(row);
        assertEquals("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1+1,'-cmd,'@SUM(A1),'\tx,-1.5,+2e-3,''=already,plain\r\n",
                line);
        assertEquals(List.of(row), Csv.parse(line));
    }
}
