// A Pulsar client of a user's own, run by chaosbed as a `container` workload.
//
// chaosbed tells it where the brokers are (CHAOSBED_PULSAR_URL), which phase it is in
// (CHAOSBED_PHASE: "workload" or "final-read") and for how long (CHAOSBED_DURATION_SECONDS).
// It prints every operation on stdout as one JSON line in Jepsen's shape; its logs go to stderr.
// In the workload phase CHAOSBED_CLIENTS producers send messages with unique ids while one
// consumer receives and acknowledges them; in the final-read phase a consumer on the same
// subscription drains what is left. chaosbed's delivery check then finds every acknowledged
// send among the receptions, or names the lost ones.

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.PulsarClientException;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;
import org.apache.pulsar.client.api.SubscriptionType;

public class Client {
    static final Object PRINT = new Object();
    static volatile boolean stop = false;

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        return out.append('"').toString();
    }

    static void emit(String process, String type, String f, String value, String error) {
        String line = "{\"process\": " + quote(process) + ", \"type\": " + quote(type)
                + ", \"f\": " + quote(f) + ", \"value\": " + value
                + (error == null ? "" : ", \"error\": " + quote(error)) + "}";
        synchronized (PRINT) {
            System.out.println(line);
            System.out.flush();
        }
    }

    static String sendValue(String id, String producer, long seq) {
        return "{\"id\": " + quote(id) + ", \"producer\": " + quote(producer) + ", \"seq\": " + seq + "}";
    }

    static void produce(PulsarClient client, String topic, String name, double rate, long endNanos) {
        Producer<byte[]> producer;
        try {
            producer = client.newProducer()
                    .topic(topic)
                    .producerName(name + "-" + ProcessHandle.current().pid())
                    .sendTimeout(10, TimeUnit.SECONDS)
                    .enableBatching(false)
                    .create();
        } catch (PulsarClientException e) {
            System.err.println(name + ": could not create the producer: " + e);
            return;
        }
        long seq = 0;
        while (!stop && System.nanoTime() < endNanos) {
            seq++;
            String id = name + "-" + seq;
            String value = sendValue(id, name, seq);
            emit(name, "invoke", "send", value, null);
            try {
                MessageId messageId = producer.newMessage()
                        .value(id.getBytes())
                        .property("id", id)
                        .property("producer", name)
                        .property("seq", Long.toString(seq))
                        .send();
                emit(name, "ok", "send", "{\"id\": " + quote(id) + ", \"message_id\": "
                        + quote(messageId.toString()) + "}", null);
            } catch (PulsarClientException.ProducerQueueIsFullError e) {
                emit(name, "fail", "send", value, e.toString());
            } catch (PulsarClientException e) {
                // A timeout or a lost connection: the broker may have persisted it.
                emit(name, "info", "send", value, e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            double pause = -Math.log(1 - ThreadLocalRandom.current().nextDouble()) / rate;
            sleep((long) (pause * 1000));
        }
        try {
            producer.close();
        } catch (PulsarClientException e) {
            System.err.println(name + ": closing the producer: " + e);
        }
    }

    static Consumer<byte[]> subscribe(PulsarClient client, String topic) throws PulsarClientException {
        return client.newConsumer(Schema.BYTES)
                .topic(topic)
                .subscriptionName("java-client")
                .subscriptionType(SubscriptionType.Failover)
                .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
                .subscribe();
    }

    /** Receives until `endNanos`, or until nothing came for `idleMillis` when that is set. */
    static int consume(Consumer<byte[]> consumer, String phase, long endNanos, long idleMillis) {
        int received = 0;
        long lastNanos = System.nanoTime();
        while (!stop && System.nanoTime() < endNanos) {
            Message<byte[]> message;
            try {
                message = consumer.receive(500, TimeUnit.MILLISECONDS);
            } catch (PulsarClientException e) {
                System.err.println("consumer: " + e);
                sleep(200);
                continue;
            }
            if (message == null) {
                if (idleMillis > 0 && System.nanoTime() - lastNanos > idleMillis * 1_000_000) break;
                continue;
            }
            lastNanos = System.nanoTime();
            received++;
            emit("consumer", "ok", "receive", "{\"id\": " + quote(message.getProperty("id"))
                    + ", \"producer\": " + quote(message.getProperty("producer"))
                    + ", \"seq\": " + message.getProperty("seq")
                    + ", \"message_id\": " + quote(message.getMessageId().toString())
                    + ", \"redelivery_count\": " + message.getRedeliveryCount()
                    + ", \"phase\": " + quote(phase) + "}", null);
            consumer.acknowledgeAsync(message);
        }
        return received;
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void main(String[] args) throws Exception {
        String url = System.getenv("CHAOSBED_PULSAR_URL");
        String phase = env("CHAOSBED_PHASE", "workload");
        double seconds = Double.parseDouble(env("CHAOSBED_DURATION_SECONDS", "30"));
        String topic = env("CHAOSBED_PULSAR_TOPIC", "persistent://public/default/java-client");
        int clients = Integer.parseInt(env("CHAOSBED_CLIENTS", "2"));
        double rate = Double.parseDouble(env("CHAOSBED_RATE", "50")) / clients;
        long endNanos = System.nanoTime() + (long) (seconds * 1e9);
        System.err.println("java client: phase " + phase + " on " + topic + " at " + url + " for " + seconds + "s");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop = true));
        PulsarClient client = PulsarClient.builder()
                .serviceUrl(url)
                .operationTimeout(10, TimeUnit.SECONDS)
                .build();
        if (phase.equals("final-read")) {
            Consumer<byte[]> consumer = subscribe(client, topic);
            int drained = consume(consumer, "drain", endNanos, 10_000);
            System.err.println("drained " + drained + " messages");
            consumer.close();
            client.close();
            return;
        }
        // Subscribe first, so that every message sent from here on is kept for the subscription.
        Consumer<byte[]> consumer = subscribe(client, topic);
        Thread receiver = new Thread(() -> consume(consumer, "workload", endNanos, 0));
        receiver.start();
        List<Thread> producers = new ArrayList<>();
        for (int k = 0; k < clients; k++) {
            String name = "p" + k;
            Thread t = new Thread(() -> produce(client, topic, name, rate, endNanos));
            t.start();
            producers.add(t);
        }
        for (Thread t : producers) t.join();
        receiver.join();
        consumer.close();
        client.close();
    }
}
