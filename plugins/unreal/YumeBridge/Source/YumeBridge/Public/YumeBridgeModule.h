// The Yume Bridge runtime module and its log category.
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

YUMEBRIDGE_API DECLARE_LOG_CATEGORY_EXTERN(LogYumeBridge, Log, All);

class FYumeBridgeModule final : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;
};
