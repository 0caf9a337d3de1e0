"""QoS 1 publish throughput of paho-mqtt, for starling-transport-bench.

usage: paho_pub.py HOST PORT WINDOW COUNT PAYLOAD_BYTES   (exits when every PUBACK has arrived)
"""
import sys
import threading

import paho.mqtt.client as mqtt

host, port, window, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
done = threading.Event()
acked = 0


def on_publish(client, userdata, mid, reason_code=None, properties=None):
    global acked
    acked += 1
    if acked == count:
        done.set()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv5)
client.max_inflight_messages_set(window)
client.max_queued_messages_set(0)
client.on_publish = on_publish
client.connect(host, port)
client.loop_start()
payload = b"x" * size
for _ in range(count):
    client.publish("bench/paho", payload, qos=1)
done.wait()
client.disconnect()
client.loop_stop()
