/**
 * GGUF model files: a strict reader/validator ({@link io.loadstone.gguf.GgufFile}) and a
 * streaming writer ({@link io.loadstone.gguf.GgufWriter}).
 *
 * <p>llama.cpp takes the whole JVM down when it meets some malformed files, so Loadstone
 * reads and checks every byte of a GGUF header here, in Java, before native code opens the
 * file. {@link io.loadstone.gguf.GgufFile#read GgufFile.read} either returns a file whose
 * header, metadata and tensor table are consistent with each other and with the file's size,
 * or throws a {@link io.loadstone.gguf.GgufException} that names the file, the problem, the
 * byte offset and a fix. Tensor data itself is never read: files may be many gigabytes.
 *
 * <p>Versioned semantically: consumers import {@code [1.0,2)}.
 */
@Export
@Version("1.1.0")
package io.loadstone.gguf;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
