"""The streaming runtime (Faust on Kafka). Topics are declared here; agents land with it."""
