package io.loadstone.ui.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import io.loadstone.ui.http.ApiException;
import io.loadstone.ui.http.HttpIo;
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

    private transient BundleContext context;

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
            try (InputStream in = page.openStream(); OutputStream out = resp.getOutputStream()) {
                in.transferTo(out);
            }
            return;
        }
        HttpIo.sendError(resp, ApiException.notFound("unknown_url", "Nothing at " + req.getRequestURI()
                + ". The web UI is at /, the API under /v1."));
    }
}
