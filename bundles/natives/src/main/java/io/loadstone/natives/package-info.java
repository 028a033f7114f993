/**
 * Native libraries shipped as OSGi fragments.
 *
 * <p>A host bundle (e.g. the llama.cpp runtime) gets one fragment per platform, each with
 * {@code Bundle-NativeCode} so that only the one for the running OS/CPU resolves, and the
 * headers {@value io.loadstone.natives.NativeFragment#LIBRARY_HEADER} (library entries, in load
 * order), {@value io.loadstone.natives.NativeFragment#BUILD_HEADER} (which native build, so
 * the host can pick matching binding code) and
 * {@value io.loadstone.natives.NativeFragment#PLATFORM_HEADER}. The host never lets the
 * framework extract the library: it loads a private copy from its own data area, which keeps
 * update/reinstall working (a JVM refuses one library file in two class loaders) and keeps
 * the user's temp directory untouched.
 */
@Export
@Version("1.0.0")
package io.loadstone.natives;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
