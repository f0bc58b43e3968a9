/* /api/docs: start Swagger UI on the OpenAPI document named by the page. */
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  if (!window.SwaggerUIBundle) {
    root.textContent = "The API documentation viewer could not be loaded; the OpenAPI document is at " + root.dataset.openapiUrl + ".";
    return;
  }
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset].filter(Boolean),
  });
})();
