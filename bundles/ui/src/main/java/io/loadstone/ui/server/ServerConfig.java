package io.loadstone.ui.server;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Where the web UI and the API listen and who may use them (Config Admin PID {@value #PID};
 * the launcher maps {@code --port N --listen --api-key KEY --no-auth} onto it).
 */
@ObjectClassDefinition(id = ServerConfig.PID, name = "Loadstone server",
        description = "Port, network exposure and API key of the web UI and the OpenAI-compatible API.")
public @interface ServerConfig {

    String PID = "io.loadstone.server";

    @AttributeDefinition(name = "Port", description = "TCP port (0 picks a free one). text-generation-webui's "
            + "default is 7860.", min = "0", max = "65535")
    int port() default 7860;

    @AttributeDefinition(name = "Listen on all interfaces", description = "Serve other machines on the network, "
            + "not only this one. Needs an API key unless 'Allow no authentication' is set.")
    boolean listen() default false;

    @AttributeDefinition(name = "API key", description = "When set, every API call and the web UI need it "
            + "(header 'Authorization: Bearer KEY'; the web page asks for it once).")
    String api_key() default "";

    @AttributeDefinition(name = "Allow no authentication", description = "Listen on all interfaces without an "
            + "API key. Anyone who can reach the port can then load models and install plugins.")
    boolean allow_no_auth() default false;

    @AttributeDefinition(name = "Load models on demand", description = "An API request naming a model that is "
            + "in /v1/models but not loaded loads it first (with its saved settings, within the memory budget), "
            + "as Ollama does; off, such a request is refused with 409 until the model is loaded.")
    boolean load_on_demand() default true;

    @AttributeDefinition(name = "Allowed host names", description = "Names this server answers to besides "
            + "127.0.0.1, localhost and [::1] (key 'allowed.hosts', comma-separated, without port), e.g. the "
            + "machine's name on the network for --listen. Requests naming any other host get 421, so a web page "
            + "cannot reach the server by pointing its own domain at this machine (DNS rebinding). With --listen "
            + "and none given, the machine's own host names and addresses.")
    String[] allowed_hosts() default {};
}
