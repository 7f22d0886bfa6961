"""Talking to the plant: an OPC UA server and an MQTT client, both outputs of the Qt-free station.

:mod:`app.plant.link` is what both see of a station (the PLC state, the commands, the result payloads);
:mod:`app.plant.opcua_server` and :mod:`app.plant.mqtt_output` speak the protocols on threads of their own.
"""
