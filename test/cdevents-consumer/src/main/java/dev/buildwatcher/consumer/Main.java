package dev.buildwatcher.consumer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.packageurl.PackageURL;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.cdevents.CDEvents;
import io.cloudevents.CloudEvent;
import io.cloudevents.http.HttpMessageFactory;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;

/**
 * A CDEvents consumer as a team would write one: receives CloudEvents over HTTP (binary content mode), parses each with the
 * CloudEvents SDK and validates each CDEvent with the official CDEvents SDK (dev.cdevents:cdevents-sdk-java, which checks it
 * against the spec's JSON schemas it embeds), then checks the CloudEvents binding (ce-type, ce-source, ce-id copy the CDEvent's
 * context; ce-subject is its subject id) and that the subject id is an oci purl. Answers 202 when valid, 400 with one line why
 * when not. Other event types are answered 202 and recorded as "other".
 *
 * Prints "listening <port>" once, then one JSON line per request: verdict, status, type, id, subject, why, body.
 */
public final class Main {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Main() {}

  public static void main(String[] args) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    server.createContext("/", Main::handle);
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.start();
    System.out.println("listening " + server.getAddress().getPort());
    System.out.flush();
  }

  /** Why the event is not a valid CDEvent, or null when it is. */
  static String problem(CloudEvent event, String body) {
    if (!"1.0".equals(event.getSpecVersion().toString())) return "CloudEvents specversion " + event.getSpecVersion() + ", expected 1.0";
    if (event.getDataContentType() == null || !event.getDataContentType().startsWith("application/json")) return "datacontenttype is not application/json";
    try {
      CDEvents.cdEventFromJson(body);
    } catch (RuntimeException e) {
      return "the CDEvents SDK rejected it: " + e.getMessage();
    }
    JsonNode cdevent;
    try {
      cdevent = JSON.readTree(body);
    } catch (IOException e) {
      return "unreadable JSON";
    }
    JsonNode context = cdevent.path("context");
    if (!event.getType().equals(context.path("type").asText())) return "ce-type is not context.type";
    if (!event.getSource().toString().equals(context.path("source").asText())) return "ce-source is not context.source";
    if (!event.getId().equals(context.path("id").asText())) return "ce-id is not context.id";
    String subjectId = cdevent.path("subject").path("id").asText();
    if (!subjectId.equals(event.getSubject())) return "ce-subject is not subject.id";
    return purlProblem(subjectId);
  }

  /** pkg:oci/<name>@sha256:<hex>?repository_url=<registry>/<path>, <name> being the repository's last segment. */
  static String purlProblem(String id) {
    PackageURL purl;
    try {
      purl = new PackageURL(id);
    } catch (Exception e) {
      return "subject.id is not a purl: " + e.getMessage();
    }
    if (!"oci".equals(purl.getType())) return "subject.id is not an oci purl";
    if (purl.getVersion() == null || !purl.getVersion().matches("sha256:[0-9a-f]{64}")) return "the purl's version is not a sha256 digest";
    Map<String, String> qualifiers = purl.getQualifiers();
    String repository = qualifiers == null ? null : qualifiers.get("repository_url");
    if (repository == null) return "the purl has no repository_url";
    String last = repository.substring(repository.lastIndexOf('/') + 1).toLowerCase();
    if (!last.equals(purl.getName())) return "the purl's name is not the repository's last segment";
    return null;
  }

  private static void handle(HttpExchange exchange) throws IOException {
    byte[] body = exchange.getRequestBody().readAllBytes();
    ObjectNode record = JSON.createObjectNode();
    int status;
    try {
      CloudEvent event = HttpMessageFactory.createReader((java.util.function.BiConsumer<String, String> put) ->
          exchange.getRequestHeaders().forEach((name, values) -> values.forEach((value) -> put.accept(name, value))), body).toEvent();
      record.put("type", event.getType()).put("id", event.getId()).put("source", event.getSource().toString());
      record.put("subject", event.getSubject());
      String text = new String(body, StandardCharsets.UTF_8);
      record.put("body", text);
      String why = event.getType().startsWith("dev.cdevents.") ? problem(event, text) : null;
      record.put("verdict", !event.getType().startsWith("dev.cdevents.") ? "other" : why == null ? "accepted" : "rejected");
      if (why != null) record.put("why", why);
      status = why == null ? 202 : 400;
    } catch (RuntimeException e) {
      record.put("verdict", "rejected").put("why", "not a CloudEvent: " + Objects.toString(e.getMessage(), e.getClass().getName()));
      status = 400;
    }
    record.put("status", status);
    synchronized (System.out) {
      System.out.println(JSON.writeValueAsString(record));
      System.out.flush();
    }
    byte[] answer = (record.path("why").asText("") + "\n").getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().put("content-type", List.of("text/plain; charset=utf-8"));
    exchange.sendResponseHeaders(status, answer.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(answer);
    }
  }
}
