package io.loadstone.api.loader;

/** Value types of {@link OptionSpec}. */
public enum OptionType {
    BOOLEAN, INTEGER, NUMBER, STRING, CHOICE
}
