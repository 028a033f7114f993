package io.loadstone.ui.web;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardResource;

/** Publishes the page's scripts and styles from this bundle's {@code web/static} folder at {@code /static/*}. */
@Component(service = WebResources.class)
@HttpWhiteboardResource(pattern = "/static/*", prefix = "/web/static")
public final class WebResources {
}
