package io.loadstone.ui.download;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;

import org.osgi.service.component.ComponentServiceObjects;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import com.google.gson.JsonObject;

import io.loadstone.api.runtime.ModelManager;
import io.loadstone.ui.generation.Params;
import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.HttpIo;
import io.loadstone.ui.web.PageEvents;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The download endpoints of the page API. Their paths are longer than {@code /ui/api/*}, so the whiteboard
 * sends them here rather than to the main page servlet:
 * <ul>
 * <li>{@code POST /ui/api/download/files {"repo"}}: the repo's files with sizes;</li>
 * <li>{@code POST /ui/api/download {"repo", "file"?}}: plan and start (409 with the GGUF choices when a file
 * must be chosen);</li>
 * <li>{@code GET /ui/api/downloads}: running and finished jobs;</li>
 * <li>{@code POST /ui/api/download/{id}/cancel}.</li>
 * </ul>
 * Without the download bundle every call answers 503 saying to install it, and {@code GET /ui/api/downloads}
 * says {@code available: false} so the page can show that in the box.
 */
@Component(service = Servlet.class)
@HttpWhiteboardServletPattern({"/ui/api/download", "/ui/api/download/*", "/ui/api/downloads"})
@HttpWhiteboardServletName("loadstone-ui-download")
public final class DownloadServlet extends HttpServlet {

    private static final long serialVersionUID = 1L;
    private static final Logger LOG = System.getLogger(DownloadServlet.class.getName());
    static final String NOT_INSTALLED = "Downloading needs the download bundle (io.loadstone.download): install it"
            + " on the Plugins tab or put it in the plugins folder, then try again.";

    @Reference
    private transient volatile PageEvents pages;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private transient volatile ModelManager manager;

    /** The box backed by the current downloader, or null while there is none. */
    private transient volatile DownloadDesk desk;
    private transient volatile ComponentServiceObjects<?> deskSource;

    /**
     * Optional, dynamic and greedy: the download bundle can come and go while pages are open. Bound through
     * {@link ComponentServiceObjects} so that no signature here names a type of the download bundle: SCR
     * reflects over this class even when that bundle is absent.
     */
    @Reference(name = "downloader", service = io.loadstone.download.ModelDownloader.class,
            cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "unbindDownloader")
    void bindDownloader(ComponentServiceObjects<?> source) {
        Object service = source.getService();
        if (service == null) {
            return;
        }
        deskSource = source;
        // Bound before the other references are set (SCR binds in name order), so both are read when used.
        desk = new HubDownloadDesk(service, (event, data) -> {
            PageEvents p = pages;
            if (p != null) {
                p.publish(event, data);
            }
        }, () -> manager);
    }

    void unbindDownloader(ComponentServiceObjects<?> source) {
        if (deskSource == source) {
            desk = null;
            deskSource = null;
        }
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String servletPath = req.getServletPath();
        String path = servletPath + HttpIo.subPath(req);
        String method = req.getMethod();
        try {
            DownloadDesk d = desk;
            if (path.equals("/ui/api/downloads") && method.equals("GET")) {
                if (d == null) {
                    JsonObject o = new JsonObject();
                    o.addProperty("available", false);
                    o.addProperty("message", NOT_INSTALLED);
                    o.add("jobs", new com.google.gson.JsonArray());
                    HttpIo.send(resp, 200, o);
                } else {
                    HttpIo.send(resp, 200, d.list());
                }
                return;
            }
            if (!method.equals("POST")) {
                throw new ApiException(405, "invalid_request_error", "method_not_allowed", null,
                        "Use POST for " + path + ".");
            }
            if (d == null) {
                throw new ApiException(503, "server_error", "download_unavailable", null, NOT_INSTALLED);
            }
            if (path.equals("/ui/api/download")) {
                Params p = new Params(HttpIo.readObject(req));
                HttpIo.send(resp, 200, d.start(repo(p), p.string("file", null)));
            } else if (path.equals("/ui/api/download/files")) {
                Params p = new Params(HttpIo.readObject(req));
                HttpIo.send(resp, 200, d.files(repo(p)));
            } else if (path.startsWith("/ui/api/download/") && path.endsWith("/cancel")) {
                String id = path.substring("/ui/api/download/".length(), path.length() - "/cancel".length());
                HttpIo.send(resp, 200, d.cancel(id));
            } else {
                throw ApiException.notFound("unknown_url", "Unknown download API path " + path
                        + ". Use /ui/api/download, /ui/api/download/files, /ui/api/downloads or"
                        + " /ui/api/download/{id}/cancel.");
            }
        } catch (ApiException e) {
            HttpIo.sendError(resp, e);
        } catch (ChoiceNeeded e) {
            JsonObject body = HttpIo.errorBody(new ApiException(409, "invalid_request_error", "choice_needed", "file",
                    e.getMessage()));
            body.add("choices", e.choices());
            HttpIo.send(resp, 409, body);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "Download request " + method + " " + req.getRequestURI() + " failed", e);
            HttpIo.sendError(resp, ApiException.internal(e));
        }
    }

    private static String repo(Params p) throws ApiException {
        String repo = p.string("repo", null);
        if (repo == null || repo.isBlank()) {
            throw ApiException.badRequest("repo", "missing_parameter",
                    "Enter a model to download: user/model, user/model:branch, or a Hugging Face URL.");
        }
        return repo.strip();
    }
}
