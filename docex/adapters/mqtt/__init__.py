"""The MQTT bridge: a unit whose office system speaks MQTT joins the exchange through its own
Mosquitto, and the bridge speaks AMQP to the exchange as that unit.

The contract with the office system (topic prefix `docex` by default):

- `docex/<unit>/out/<type>`: a command the office system sends (`submit`, `receipt`, …), the
  payload the same MessagePack body an AMQP unit would publish. QoS 1. With MQTT 5, a user
  property `message_id` is the command's idempotency key: the office system sets it when it
  retries (and must for a `print_request`, whose seal signs it); without one the bridge gives
  the command a fresh UUIDv7. It follows the id rule of `docex/ids.py` (a UUID or ULID fits);
  the router refuses any other as `invalid_message_id`.
- `docex/<unit>/in/<type>`: everything the router sends the unit (`deliver`, `status`, …), QoS 1,
  with the router's message id in the user property `message_id`: the same message may come
  twice after a crash, and the id tells.

A command is acknowledged to Mosquitto only after RabbitMQ confirmed it; a message from the
unit's queue is acknowledged to RabbitMQ only after Mosquitto acknowledged it. Both MQTT
sessions (bridge and office system) must be persistent for a restart to lose nothing, and
Mosquitto must keep them: `persistence true`, in a `persistence_location` the user it runs as
can write (started as root it drops to `mosquitto` before saving), and stopped with SIGTERM; a
`kill -9` loses what it held since its last autosave. The bridge subscribes on every connect,
so it goes on after a Mosquitto that kept nothing, less what that Mosquitto lost.
"""
