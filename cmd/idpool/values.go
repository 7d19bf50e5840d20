package main

import "database/sql/driver"

type driverValue = driver.Value
