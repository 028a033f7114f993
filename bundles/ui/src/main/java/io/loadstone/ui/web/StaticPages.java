package io.loadstone.ui.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.HttpIo;
import io.loadstone.ui.server.PageToken;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The page itself at {@code /}, and a JSON 404 for any other path nobody serves. Scripts and
 * styles come from the whiteboard resource registration ({@link WebResources}).
 */
@Component(service = Servlet.class)
@HttpWhiteboardServletPattern("/")
@HttpWhiteboardServletName("loadstone-ui-index")
public final class StaticPages extends HttpServlet {

    private static final long serialVersionUID = 1L;
    /** The token's meta tag goes right after this one. */
    private static final String TOKEN_ANCHOR = "<meta charset=\"utf-8\">";

    private transient BundleContext context;

    /** Written into the page so its Plugins tab can install and remove code (see {@link PageToken}). */
    @Reference
    private transient PageToken pageToken;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String path = req.getServletPath() + (req.getPathInfo() == null ? "" : req.getPathInfo());
        if (path.isEmpty() || path.equals("/") || path.equals("/index.html")) {
            URL page = context.getBundle().getEntry("web/index.html");
            resp.setContentType("text/html;charset=utf-8");
            resp.setHeader("Cache-Control", "no-cache");
            // The page talks only to its own origin; nothing may frame it.
            resp.setHeader("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                    + "frame-ancestors 'none'");
            resp.setHeader("X-Content-Type-Options", "nosniff");
            String html;
            try (InputStream in = page.openStream()) {
                html = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            html = html.replace(TOKEN_ANCHOR, TOKEN_ANCHOR + "\n<meta name=\"loadstone-token\" content=\""
                    + pageToken.value() + "\">");
            try (OutputStream out = resp.getOutputStream()) {
                out.write(html.getBytes(StandardCharsets.UTF_8));
            }
            return;
        }
        HttpIo.sendError(resp, ApiException.notFound("unknown_url", "Nothing at " + req.getRequestURI()
                + ". The web UI is at /, the API under /v1."));
    }
}
