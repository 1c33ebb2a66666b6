#include "YumeBridgeSettings.h"

UYumeBridgeSettings::UYumeBridgeSettings()
{
}

FName UYumeBridgeSettings::GetCategoryName() const
{
	return TEXT("Plugins");
}

const UYumeBridgeSettings* UYumeBridgeSettings::Get()
{
	return GetDefault<UYumeBridgeSettings>();
}

FName UYumeBridgeUserSettings::GetCategoryName() const
{
	return TEXT("Plugins");
}

const UYumeBridgeUserSettings* UYumeBridgeUserSettings::Get()
{
	return GetDefault<UYumeBridgeUserSettings>();
}
