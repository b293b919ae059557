"""Publish every event example with app.events.MqttPublisher to a real broker
(argv[1]: its port on 127.0.0.1) and check a subscriber receives each one
unchanged on its topic, with the event's trace id in the MQTT v5
`traceparent` user property. Run from the workspace root."""
import asyncio
import json
import pathlib
import sys
import threading

sys.path.insert(0, ".")
import paho.mqtt.client as mqtt  # noqa: E402

from app.events import TOPICS, MqttPublisher, topic_for  # noqa: E402

port = int(sys.argv[1])
events = []
for p in sorted(pathlib.Path("schemas/events/examples").glob("*.json")):
    ev = json.loads(p.read_text())
    for name in TOPICS:
        try:
            events.append((name, ev, topic_for(name, ev)))
            break
        except Exception:
            continue
assert events, "no event example fits a topic"

received = []
ready, done = threading.Event(), threading.Event()


def on_connect(c, u, f, rc, p=None):
    c.subscribe("#", qos=1)


def on_subscribe(c, u, mid, rcs, p=None):
    ready.set()


def on_message(c, u, msg):
    props = dict(getattr(msg.properties, "UserProperty", []) or [])
    received.append((msg.topic, json.loads(msg.payload), props))
    if len(received) == len(events):
        done.set()


sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
sub.on_connect, sub.on_subscribe, sub.on_message = on_connect, on_subscribe, on_message
sub.connect("127.0.0.1", port)
sub.loop_start()
assert ready.wait(5), "subscribe timed out"


async def publish_all():
    pub = MqttPublisher(f"mqtt://127.0.0.1:{port}")
    topics = [await pub.publish(name, ev) for name, ev, _ in events]
    await pub.close()
    return topics


topics = asyncio.run(publish_all())
assert done.wait(5), f"received {len(received)} of {len(events)} messages"
sub.loop_stop()
sub.disconnect()
for (name, ev, topic), sent_topic, (got_topic, payload, props) in zip(events, topics, received):
    assert sent_topic == topic == got_topic, (sent_topic, got_topic)
    assert payload == ev, (payload, ev)
    assert props["traceparent"].split("-")[1] == ev["trace_id"], props
print(f"mosquitto: {len(events)} event(s) published and received unchanged on "
      f"{', '.join(sorted(set(topics)))}, trace ids in traceparent")
