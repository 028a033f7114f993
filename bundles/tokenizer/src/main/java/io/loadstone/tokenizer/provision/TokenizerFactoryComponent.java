package io.loadstone.tokenizer.provision;

import io.loadstone.natives.CopyPolicy;
import io.loadstone.natives.NativeFragment;
import io.loadstone.natives.NativeFragments;
import io.loadstone.natives.Platform;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.List;

import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import io.loadstone.tokenizer.TokenizerFactory;
import io.loadstone.tokenizer.hf.JniTokenizerLibrary;

/**
 * Loads the tokenizers library of the attached fragment and registers the
 * {@link TokenizerFactory} service; without a usable fragment it registers nothing and says which
 * fragment to install.
 *
 * <p>It registers the service itself (instead of declaring it to DS) because whether there is a
 * service at all depends on what is attached, which DS cannot express. A JNI library cannot be
 * unloaded while its class loader lives, so deactivation only unregisters the service;
 * tokenizers already handed out keep working until their users close them.
 */
@Component(immediate = true)
public class TokenizerFactoryComponent {

    private static final System.Logger LOG = System.getLogger(TokenizerFactoryComponent.class.getName());

    private ServiceRegistration<TokenizerFactory> registration;

    @Activate
    void activate(BundleContext context) {
        String bsn = context.getBundle().getSymbolicName();
        List<NativeFragment> fragments = NativeFragments.attached(context.getBundle());
        if (fragments.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "No Hugging Face tokenizers native library for this platform ("
                    + Platform.current() + ") is attached to " + bsn + ": install the fragment "
                    + Platform.fragmentName("io.loadstone.tokenizers-") + " and refresh " + bsn
                    + ". Tokenizers stay unavailable until then.");
            return;
        }
        NativeFragment chosen = fragments.stream()
                .filter(f -> JniTokenizerLibrary.SUPPORTED_BUILDS.contains(f.build())).findFirst().orElse(null);
        if (chosen == null) {
            LOG.log(System.Logger.Level.ERROR, "The attached native fragment(s) "
                    + fragments.stream().map(NativeFragment::describe).toList() + " carry tokenizers builds this "
                    + bsn + " " + context.getBundle().getVersion() + " cannot use (it supports "
                    + JniTokenizerLibrary.SUPPORTED_BUILDS + "). Install a matching fragment or a newer " + bsn + ".");
            return;
        }
        if (fragments.size() > 1) {
            LOG.log(System.Logger.Level.INFO, "Several tokenizers native fragments are attached "
                    + fragments.stream().map(NativeFragment::describe).toList() + "; using " + chosen.describe());
        }
        JniTokenizerLibrary library;
        List<Path> files;
        try {
            files = NativeFragments.privateCopy(context, chosen, CopyPolicy.FRESH);
            library = JniTokenizerLibrary.load(files, chosen.build());
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "Cannot load the tokenizers library of " + chosen.describe() + ": "
                    + e.getMessage(), e);
            return;
        }
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(TokenizerFactory.BUILD, library.nativeBuild());
        props.put(TokenizerFactory.PLATFORM, chosen.platform().isEmpty() ? Platform.current() : chosen.platform());
        props.put("loadstone.tokenizer.fragment", chosen.bundle().getSymbolicName());
        props.put(Constants.SERVICE_DESCRIPTION, "Hugging Face tokenizers " + library.nativeBuild() + " from "
                + chosen.describe());
        registration = context.registerService(TokenizerFactory.class, library, props);
        LOG.log(System.Logger.Level.INFO, "Hugging Face tokenizers " + library.nativeBuild() + " ready from "
                + chosen.describe() + " (" + files.getLast().getParent() + ")");
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException alreadyGone) {
                // The framework unregistered it while stopping the bundle.
            }
            registration = null;
        }
    }
}
